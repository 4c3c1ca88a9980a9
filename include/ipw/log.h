/* Leveled logging to stderr. One global level, set from --log-level or IPW_LOG_LEVEL. */
#ifndef IPW_LOG_H
#define IPW_LOG_H

typedef enum ipw_log_level {
    IPW_LOG_ERROR = 0,
    IPW_LOG_WARN,
    IPW_LOG_INFO,
    IPW_LOG_DEBUG,
    IPW_LOG_TRACE
} ipw_log_level;

void ipw_log_set_level(ipw_log_level level);
ipw_log_level ipw_log_get_level(void);
/* Parses "error|warn|info|debug|trace"; returns -1 when the name is unknown. */
int ipw_log_parse_level(const char *name);
/* Those names, NULL-terminated: the choices of every command's --log-level
 * (IPW_OPT_LOG_LEVEL in ipw/options.h). */
extern const char *const ipw_log_level_names[];
/* A command's --log-level: the level given (NULL when the flag was not), else
 * IPW_LOG_LEVEL from the environment when it names a level, else the command's default. */
void ipw_log_apply_option(const char *given, ipw_log_level dflt);
void ipw_log(ipw_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define ipw_error(...) ipw_log(IPW_LOG_ERROR, __VA_ARGS__)
#define ipw_warn(...) ipw_log(IPW_LOG_WARN, __VA_ARGS__)
#define ipw_info(...) ipw_log(IPW_LOG_INFO, __VA_ARGS__)
#define ipw_debug(...) ipw_log(IPW_LOG_DEBUG, __VA_ARGS__)

#endif
