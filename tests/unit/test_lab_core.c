/* The lab's pure core: composing the request, every formula of one run (closure, active
 * energies, per-1000-token figures, E_llm, M_eff and its flag, carbon), the country table, the
 * estimate of every preset and external table row, the Scaphandre parser and integral, and the
 * URL port rule of --server-pid auto. */
#include "ipw_test.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ipw/embedded.h"
#include "ipw/lab.h"

static void test_compose(void **state)
{
    (void)state;
    struct ipw_lab_prompt p = {.user = "hi"};
    char *sys = NULL;
    assert_int_equal(ipw_lab_compose_system(&p, &sys, NULL), IPW_OK);
    assert_null(sys); /* nothing to add: no system message at all */
    p.system = "Be brief.";
    p.context = "user: earlier";
    p.n_inject = 2;
    p.inject[0] = (struct ipw_lab_injection){"tools.txt", "TOOLS"};
    p.inject[1] = (struct ipw_lab_injection){"rules", "RULES"};
    assert_int_equal(ipw_lab_compose_system(&p, &sys, NULL), IPW_OK);
    assert_string_equal(sys, "Be brief.\n\n<conversation_context>\nuser: earlier\n"
                             "</conversation_context>\n\n---\n\n[tools.txt]\nTOOLS\n\n---\n\n"
                             "[rules]\nRULES");
    free(sys);
    /* context already tagged: not wrapped twice; injections alone still get their separator */
    struct ipw_lab_prompt q = {.user = "x",
                               .context = "<conversation_context>c</conversation_context>"};
    assert_int_equal(ipw_lab_compose_system(&q, &sys, NULL), IPW_OK);
    assert_string_equal(sys, "<conversation_context>c</conversation_context>");
    free(sys);
    struct ipw_lab_prompt r = {.user = "x", .n_inject = 1, .inject = {{"t", "T"}}};
    assert_int_equal(ipw_lab_compose_system(&r, &sys, NULL), IPW_OK);
    assert_string_equal(sys, "---\n\n[t]\nT");
    free(sys);
    r.n_inject = IPW_LAB_MAX_INJECT + 1;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_lab_compose_system(&r, &sys, &eb), IPW_E_INVALID);
    /* chars/4 + 4 per message; characters, not bytes */
    assert_int_equal(ipw_lab_estimate_prompt_tokens(NULL, "abcdefgh"), 2 + 4);
    assert_int_equal(ipw_lab_estimate_prompt_tokens("abcd", "abcdefgh"), 1 + 4 + 2 + 4);
    assert_int_equal(ipw_lab_estimate_prompt_tokens(NULL, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"),
                     1 + 4);
}

/* A run measured at known values: 40 W idle, 100 W in flight for 0.2 s prefill + 0.8 s decode. */
static struct ipw_lab_run known_run(void)
{
    struct ipw_lab_run r;
    ipw_lab_run_init(&r);
    r.have_energy = true;
    r.prefill_wh = 100 * 0.2 / 3600;
    r.decode_wh = 100 * 0.8 / 3600;
    r.total_wh = 100 * 1.0 / 3600;
    r.cpu_wh = r.total_wh;
    r.idle_watts = 40;
    r.ttft_s = 0.2;
    r.decode_s = 0.8;
    r.latency_s = 1.0;
    r.input_tokens = 50;
    r.output_tokens = 200;
    return r;
}

static void test_formulas(void **state)
{
    (void)state;
    struct ipw_lab_run r = known_run();
    ipw_lab_run_derive(&r, 445);
    assert_double_equal(r.closure_error_wh, 0, 1e-17);
    assert_double_equal(r.prefill_active_wh, 60 * 0.2 / 3600, 1e-15);
    assert_double_equal(r.decode_active_wh, 60 * 0.8 / 3600, 1e-15);
    assert_double_equal(r.total_active_wh, 60 * 1.0 / 3600, 1e-15);
    assert_double_equal(r.wh_per_1000_etokens, r.total_wh / 200 * 1000, 1e-15);
    assert_double_equal(r.prefill_wh_per_1000_input_tokens, r.prefill_wh / 50 * 1000, 1e-15);
    assert_double_equal(r.decode_wh_per_1000_output_tokens, r.decode_wh / 200 * 1000, 1e-15);
    assert_double_equal(r.active_wh_per_1000_etokens, r.total_active_wh / 200 * 1000, 1e-15);
    assert_double_equal(r.prefill_active_wh_per_1000_input_tokens,
                        r.prefill_active_wh / 50 * 1000, 1e-15);
    assert_double_equal(r.carbon_g, r.total_wh / 1000 * 445, 1e-15);
    /* no attribution measured: E_llm falls back to the total, said so */
    assert_int_equal(r.e_llm_source, IPW_LAB_E_LLM_TOTAL);
    assert_double_equal(r.e_llm_wh, r.total_wh, 0);
    assert_true(isnan(r.m_eff_wh)); /* no server durations */

    /* active energies never go below zero; a phase under the baseline is 0 */
    struct ipw_lab_run low = known_run();
    low.idle_watts = 150;
    ipw_lab_run_derive(&low, 445);
    assert_double_equal(low.total_active_wh, 0, 0);
    /* rounding is no energy: 0.3 - (0.1 + 0.2) and a phase exactly at the baseline are 0, not
     * the +-5.6e-17 Wh the subtraction leaves */
    struct ipw_lab_run ex = known_run();
    ex.prefill_wh = 0.1;
    ex.decode_wh = 0.2;
    ex.total_wh = 0.3;
    ipw_lab_run_derive(&ex, 445);
    assert_true(ex.closure_error_wh == 0);
    ex.total_wh = 0.1 + 0.2;
    ex.idle_watts = 1080; /* x 1 s = 0.3 Wh */
    ex.latency_s = 1.0;
    ipw_lab_run_derive(&ex, 445);
    assert_true(ex.total_active_wh == 0);
    /* no baseline: active is unknown (NaN), not zero */
    struct ipw_lab_run nob = known_run();
    ipw_lab_run_derive(&nob, 445);
    nob.idle_watts = NAN;
    ipw_lab_run_derive(&nob, 445);
    assert_true(isnan(nob.total_active_wh));
    /* zero output tokens: "insufficient tokens", not a division by 0.001 */
    struct ipw_lab_run zt = known_run();
    zt.output_tokens = 0;
    ipw_lab_run_derive(&zt, 445);
    assert_true(isnan(zt.wh_per_1000_etokens));
    /* no energy at all: every Wh is NaN, never 0 */
    struct ipw_lab_run none;
    ipw_lab_run_init(&none);
    none.latency_s = 1;
    ipw_lab_run_derive(&none, 445);
    assert_true(isnan(none.total_wh) && isnan(none.carbon_g) && isnan(none.e_llm_wh));
    assert_int_equal(none.e_llm_source, IPW_LAB_E_LLM_NONE);
}

static void test_e_llm_and_m_eff(void **state)
{
    (void)state;
    struct ipw_lab_run r = known_run();
    r.cpu_wh = 0.02;
    r.gpu_wh = 0.006;
    r.cpu_share_busy = 0.5;
    r.cpu_share_capacity = 0.25;
    r.gpu_share = 0.9;
    r.server_eval_s = 0.7; /* of a 1.0 s latency */
    ipw_lab_run_derive(&r, 445);
    assert_int_equal(r.e_llm_source, IPW_LAB_E_LLM_PROCTREE);
    assert_double_equal(r.e_llm_wh, 0.5 * 0.02 + 0.9 * 0.006, 1e-15);
    assert_double_equal(r.e_llm_capacity_wh, 0.25 * 0.02 + 0.9 * 0.006, 1e-15);
    assert_double_equal(r.m_eff_wh, r.e_llm_wh * 0.7, 1e-15);
    assert_double_equal(r.m_eff_deviation_pct, 30.0, 1e-9);
    assert_true(r.m_eff_flagged);
    /* flagged at 20 % and above: 21 % is, 19 % is not */
    r.server_eval_s = 0.79;
    ipw_lab_run_derive(&r, 445);
    assert_true(r.m_eff_flagged);
    r.server_eval_s = 0.81;
    ipw_lab_run_derive(&r, 445);
    assert_false(r.m_eff_flagged);
    /* the ratio is clamped to [0, 1]: a server claiming more than the wall time */
    r.server_eval_s = 3;
    ipw_lab_run_derive(&r, 445);
    assert_double_equal(r.m_eff_wh, r.e_llm_wh, 0);
    /* Scaphandre when no process tree was measured */
    struct ipw_lab_run s = known_run();
    s.scaph_wh = 0.004;
    ipw_lab_run_derive(&s, 445);
    assert_int_equal(s.e_llm_source, IPW_LAB_E_LLM_SCAPHANDRE);
    assert_double_equal(s.e_llm_wh, 0.004, 0);
}

static void test_run_json_keys(void **state)
{
    (void)state;
    struct ipw_lab_run r = known_run();
    ipw_lab_run_derive(&r, 445);
    json_t *j = ipw_lab_run_to_json(&r);
    const char *keys[] = {"prefill_wh", "decode_wh", "total_wh", "prefill_active_wh",
                          "decode_active_wh", "total_active_wh", "idle_watts",
                          "closure_error_wh", "wh_per_1000_etokens",
                          "prefill_wh_per_1000_input_tokens", "decode_wh_per_1000_output_tokens",
                          "e_llm_wh", "e_llm_source", "m_eff_wh", "m_eff_deviation_pct",
                          "input_tokens", "output_tokens", "injection_overhead_tokens", "ttft_s",
                          "decode_s", "latency_s", "carbon_g", "collector", "energy_source"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (!json_object_get(j, keys[i]))
            fail_msg("key %s missing", keys[i]);
    assert_true(json_is_null(json_object_get(j, "m_eff_wh")));
    assert_true(json_is_null(json_object_get(j, "injection_overhead_tokens")));
    assert_double_equal(json_number_value(json_object_get(j, "total_wh")), r.total_wh, 0);
    json_decref(j);
}

static void test_carbon_every_country(void **state)
{
    (void)state;
    /* read the shipped file independently and check every row through the lookup */
    const struct ipw_embedded_file *f = ipw_embedded_find("lab/emissions.json");
    assert_non_null(f);
    json_t *rows = json_loads((const char *)f->data, 0, NULL);
    assert_true(json_array_size(rows) >= 209);
    size_t i;
    json_t *row;
    json_array_foreach(rows, i, row)
    {
        const char *code = json_string_value(json_object_get(row, "country_code"));
        double kg = json_number_value(json_object_get(row, "emission_factor"));
        double g;
        assert_int_equal(ipw_lab_country_intensity(code, &g, NULL), IPW_OK);
        assert_double_equal(g, kg * 1000, 1e-9);
        assert_double_equal(ipw_lab_carbon_g(2.5, g), 2.5 * kg, 1e-12);
    }
    json_decref(rows);
    double g;
    assert_int_equal(ipw_lab_country_intensity("global", &g, NULL), IPW_OK);
    assert_double_equal(g, IPW_LAB_DEFAULT_GRID_G_PER_KWH, 1e-9);
    assert_int_equal(ipw_lab_country_intensity("fr", &g, NULL), IPW_OK);
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_lab_country_intensity("FX", &g, &eb), IPW_E_NOTFOUND);
    assert_non_null(strstr(eb.msg, "FR (France)")); /* one letter away */
    assert_int_equal(ipw_lab_country_intensity("Germ", &g, &eb), IPW_E_NOTFOUND);
    assert_non_null(strstr(eb.msg, "DE (Germany)")); /* by name */
}

static void check_table(const char *file, bool halved)
{
    const struct ipw_embedded_file *f = ipw_embedded_find(file);
    assert_non_null(f);
    json_t *j = json_loads((const char *)f->data, 0, NULL);
    size_t i, seen = 0;
    json_t *m;
    json_array_foreach(json_object_get(j, "models"), i, m)
    {
        const char *id = json_string_value(json_object_get(m, "model_id"));
        double v = json_number_value(json_object_get(m, "wh_per_1000_input_etokens"));
        struct ipw_lab_benchmark b;
        ipw_errbuf eb = {0};
        if (ipw_lab_benchmark_find(NULL, id, &b, &eb) != IPW_OK)
            fail_msg("%s: %s", id, eb.msg);
        /* Wh = in/1000 x c_in + out/1000 x c_out, with the table's coefficients */
        double c_in = halved ? v / 2 : v, c_out = halved ? v / 2 : 0;
        assert_double_equal(ipw_lab_estimate_wh(&b, 1234, 567), 1.234 * c_in + 0.567 * c_out,
                            1e-12);
        if (halved) /* the table's own prompt, 1k in + 1k out, gives its figure back */
            assert_double_equal(ipw_lab_estimate_wh(&b, 1000, 1000), v, 1e-12);
        seen++;
    }
    assert_true(seen > 0);
    json_decref(j);
}

static void test_estimates(void **state)
{
    (void)state;
    const struct {
        const char *name;
        double c_in, c_out;
    } presets[] = {{"nvidia_a100", 0.2, 0.8},           {"nvidia_rtx4090", 0.3, 1.2},
                   {"nvidia_rtx3080", 0.4, 1.5},        {"cpu_baseline", 2.0, 5.0},
                   {"conservative_estimate", 0.25, 1.0}, {"hp_255_g10_measured", 0.01, 0.0311}};
    for (size_t i = 0; i < 6; i++) {
        struct ipw_lab_benchmark b;
        assert_int_equal(ipw_lab_benchmark_find(NULL, presets[i].name, &b, NULL), IPW_OK);
        assert_double_equal(ipw_lab_estimate_wh(&b, 800, 300),
                            0.8 * presets[i].c_in + 0.3 * presets[i].c_out, 1e-12);
    }
    check_table("lab/benchmark_data/hugging_face.json", false);
    check_table("lab/benchmark_data/jegham_et_al.json", true);
    struct ipw_lab_benchmark b;
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_lab_benchmark_find(NULL, "nvidia_a1000", &b, &eb), IPW_E_NOTFOUND);
    assert_non_null(strstr(eb.msg, "nvidia_a100"));
    char name[128];
    ipw_lab_calibrated_name("llama3.2:1b q4", name, sizeof name);
    assert_string_equal(name, "rapl_calibrated_llama3.2_1b_q4");
}

static void test_scaphandre(void **state)
{
    (void)state;
    const char *text =
        "# HELP scaph_process_power_consumption_microwatts Power consumption due to the process\n"
        "# TYPE scaph_process_power_consumption_microwatts gauge\n"
        "scaph_process_power_consumption_microwatts{exe=\"ollama\",pid=\"10\",cmdline=\"/usr/bin/ollamaserve\"} 2500000\n"
        "scaph_process_power_consumption_microwatts{exe=\"ollama_llama_server\",pid=\"11\",cmdline=\"runner\"} 7500000\n"
        "scaph_process_power_consumption_microwatts{exe=\"bash\",pid=\"12\",cmdline=\"bash\"} 900000\n"
        "scaph_process_power_consumption_microwatts_total{exe=\"ollama\"} 1e12\n"
        "scaph_host_power_microwatts 40000000\n";
    double w;
    int n;
    assert_int_equal(ipw_lab_scaph_parse(text, strlen(text), "ollama", &w, &n, NULL), IPW_OK);
    assert_int_equal(n, 2);
    assert_double_equal(w, 10.0, 1e-12);
    ipw_errbuf eb = {0};
    assert_int_equal(ipw_lab_scaph_parse(text, strlen(text), "vllm", &w, &n, &eb),
                     IPW_E_NOTFOUND);
    assert_non_null(strstr(eb.msg, "SCAPHANDRE_OLLAMA_MATCH"));
    /* right rectangle: the first poll opens the window; each value covers the interval before */
    struct ipw_lab_scaph_integral it = {0};
    ipw_lab_scaph_add(&it, 0, 999); /* ignored: the exporter's value from before the run */
    ipw_lab_scaph_add(&it, 2 * 1000000000LL, 10);
    ipw_lab_scaph_add(&it, 5 * 1000000000LL, 20);
    assert_double_equal(it.joules, 10 * 2 + 20 * 3, 1e-12);
    assert_int_equal(it.polls, 2);
}

static void test_url_port(void **state)
{
    (void)state;
    assert_int_equal(ipw_lab_url_port("http://127.0.0.1:11434"), 11434);
    assert_int_equal(ipw_lab_url_port("http://localhost:8000/v1"), 8000);
    assert_int_equal(ipw_lab_url_port("https://api.example.com/v1"), 443);
    assert_int_equal(ipw_lab_url_port("http://[::1]:9000/"), 9000);
    assert_int_equal(ipw_lab_url_port("http://host:99999"), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compose),        cmocka_unit_test(test_formulas),
        cmocka_unit_test(test_e_llm_and_m_eff), cmocka_unit_test(test_run_json_keys),
        cmocka_unit_test(test_carbon_every_country), cmocka_unit_test(test_estimates),
        cmocka_unit_test(test_scaphandre),     cmocka_unit_test(test_url_port),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
