/* Small text helpers shared by the analysis modules (not a public interface). */
#ifndef IPW_ANALYSIS_TEXT_H
#define IPW_ANALYSIS_TEXT_H

/* The part of a response after its last "</think>" (reasoning inlined by some servers). */
const char *ipw_text_after_think(const char *s);

#endif
