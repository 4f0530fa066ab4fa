/* Unit tests: the event-fed container list — snapshots rendered exactly as the pass-through
 * answers (filters as the engine applies them, or "ask Docker"), event parsing and kinds, the
 * checks of a reload against an event, and snapshot references. */
#include <string.h>
#include <apr_strings.h>

#include "check_dockpay.h"
#include "dp_dk_watch.h"
#include "dp_json.h"

/* newest first, as the engine lists them; "/" in names and a label value with '=' */
static const char list[] =
    "[{\"Id\":\"c1\",\"Names\":[\"/web\"],\"Image\":\"local/busybox:test\",\"State\":\"running\","
    "\"Status\":\"Up 2 seconds\",\"Labels\":{\"dockpay.managed\":\"true\",\"team\":\"qa\",\"x\":\"a=b\"},"
    "\"Ports\":[],\"Mounts\":[]},"
    "{\"Id\":\"c2\",\"Names\":[\"/db\"],\"State\":\"exited\",\"Status\":\"Exited (0) 3 seconds ago\","
    "\"Labels\":{\"team\":\"qa\"}},"
    "{\"Id\":\"c3\",\"Names\":[\"/webcache\"],\"State\":\"paused\",\"Labels\":{}},"
    "{\"Id\":\"c4\",\"Names\":[\"/w3b\"],\"State\":\"created\",\"Labels\":{\"dockpay.managed\":\"true\"}},"
    "{\"Id\":\"c5\",\"Names\":[\"/r\"],\"State\":\"restarting\",\"Labels\":{\"team\":\"ops\"}}]";

static dp_dk_snap_t *snap(void)
{
    dp_dk_snap_t *s = NULL;
    ck_assert_int_eq(dp_dk_snap_build(&s, list, strlen(list)), APR_SUCCESS);
    return s;
}

/* What the pass-through sends for the engine's answer with these ids (in list order). */
static const char *expected(const char *ids)
{
    json_object *all = NULL, *items = dp_json_array(tp), *o = dp_json_object(tp);
    apr_size_t i;

    ck_assert_int_eq(dp_json_parse(&all, NULL, tp, list, strlen(list)), APR_SUCCESS);
    for (i = 0; i < json_object_array_length(all); ++i) {
        json_object *c = json_object_array_get_idx(all, i);
        const char *id = dp_json_get_str(c, "Id");
        if (strstr(ids, apr_pstrcat(tp, " ", id, " ", NULL))) {
            json_object_array_add(items, json_object_get(c));
        }
    }
    json_object_object_add(o, "items", json_object_get(items));
    return dp_json_str(tp, o);
}

/* Renders with a filters object given as JSON text (or NULL). */
static const char *render(dp_dk_snap_t *s, int all, const char *filters, apr_status_t want)
{
    json_object *f = NULL;
    const char *body = NULL;
    apr_size_t len = 0;

    if (filters) {
        ck_assert_int_eq(dp_json_parse(&f, NULL, tp, filters, strlen(filters)), APR_SUCCESS);
    }
    ck_assert_int_eq(dp_dk_snap_render(&body, &len, s, tp, all, f), want);
    if (want != APR_SUCCESS) {
        return NULL;
    }
    ck_assert_uint_eq(strlen(body), len);
    return body;
}

START_TEST(snapshot_renders_like_the_pass_through)
{
    dp_dk_snap_t *s = snap();

    ck_assert_int_eq(dp_dk_snap_count(s), 5);
    ck_assert_str_eq(render(s, 1, NULL, APR_SUCCESS), expected(" c1 c2 c3 c4 c5 "));
    ck_assert_str_eq(render(s, 1, "{}", APR_SUCCESS), expected(" c1 c2 c3 c4 c5 "));
    /* not all: what the engine calls running (running, paused, restarting) */
    ck_assert_str_eq(render(s, 0, NULL, APR_SUCCESS), expected(" c1 c3 c5 "));
    dp_dk_snap_release(s);
}
END_TEST

START_TEST(snapshot_filters_as_the_engine)
{
    dp_dk_snap_t *s = snap();

    /* status: any of them; a status filter lists stopped containers even when all=0 */
    ck_assert_str_eq(render(s, 0, "{\"status\":[\"exited\"]}", APR_SUCCESS), expected(" c2 "));
    ck_assert_str_eq(render(s, 1, "{\"status\":[\"created\",\"paused\"]}", APR_SUCCESS), expected(" c3 c4 "));
    /* label: every one must hold, key alone or key=value (split at the first '=') */
    ck_assert_str_eq(render(s, 1, "{\"label\":[\"team\"]}", APR_SUCCESS), expected(" c1 c2 c5 "));
    ck_assert_str_eq(render(s, 1, "{\"label\":[\"team=qa\"]}", APR_SUCCESS), expected(" c1 c2 "));
    ck_assert_str_eq(render(s, 1, "{\"label\":[\"team=qa\",\"dockpay.managed=true\"]}", APR_SUCCESS),
                     expected(" c1 "));
    ck_assert_str_eq(render(s, 1, "{\"label\":[\"x=a=b\"]}", APR_SUCCESS), expected(" c1 "));
    ck_assert_str_eq(render(s, 1, "{\"label\":[\"x=a\"]}", APR_SUCCESS), expected(" "));
    ck_assert_str_eq(render(s, 1, "{\"label\":[\"nope\"]}", APR_SUCCESS), "{\"items\":[]}");
    /* name: an unanchored pattern on "/name" and "name"; '.' is any character */
    ck_assert_str_eq(render(s, 1, "{\"name\":[\"web\"]}", APR_SUCCESS), expected(" c1 c3 "));
    ck_assert_str_eq(render(s, 1, "{\"name\":[\"^web$\"]}", APR_SUCCESS), expected(" c1 "));
    ck_assert_str_eq(render(s, 1, "{\"name\":[\"^/web$\"]}", APR_SUCCESS), expected(" c1 "));
    ck_assert_str_eq(render(s, 1, "{\"name\":[\"w.b\"]}", APR_SUCCESS), expected(" c1 c3 c4 "));
    ck_assert_str_eq(render(s, 1, "{\"name\":[\"db\",\"^r\"]}", APR_SUCCESS), expected(" c2 c5 "));
    ck_assert_str_eq(render(s, 1, "{\"name\":[\"cache$\"],\"label\":[\"dockpay.managed\"]}", APR_SUCCESS),
                     expected(" "));
    /* all of them together */
    ck_assert_str_eq(render(s, 0, "{\"status\":[\"running\"],\"label\":[\"team=qa\"],\"name\":[\"we\"]}",
                            APR_SUCCESS), expected(" c1 "));
    dp_dk_snap_release(s);
}
END_TEST

START_TEST(snapshot_leaves_the_rest_to_docker)
{
    dp_dk_snap_t *s = snap();
    static const char links[] = "[{\"Id\":\"a\",\"Names\":[\"/a\",\"/b/a\"],\"State\":\"running\",\"Labels\":{}}]";
    dp_dk_snap_t *l = NULL;

    render(s, 1, "{\"status\":[\"sleeping\"]}", APR_ENOTIMPL);     /* the engine's 400 */
    render(s, 1, "{\"id\":[\"c1\"]}", APR_ENOTIMPL);
    render(s, 1, "{\"name\":[\"web|db\"]}", APR_ENOTIMPL);         /* a real regexp */
    render(s, 1, "{\"name\":[\"w*\"]}", APR_ENOTIMPL);
    render(s, 1, "{\"name\":[\"^\"]}", APR_ENOTIMPL);
    render(s, 1, "{\"label\":\"team\"}", APR_ENOTIMPL);
    render(s, 1, "[]", APR_ENOTIMPL);
    ck_assert_int_eq(dp_dk_snap_build(&l, links, strlen(links)), APR_SUCCESS);
    render(l, 1, "{\"name\":[\"a\"]}", APR_ENOTIMPL);              /* which name is the primary one? */
    ck_assert_ptr_nonnull(render(l, 1, NULL, APR_SUCCESS));
    dp_dk_snap_release(l);
    dp_dk_snap_release(s);
}
END_TEST

START_TEST(snapshot_of_nothing_and_of_garbage)
{
    dp_dk_snap_t *s = NULL;
    json_object *o = dp_json_object(tp);

    ck_assert_int_eq(dp_dk_snap_build(&s, "[]", 2), APR_SUCCESS);
    json_object_object_add(o, "items", json_object_new_array());
    ck_assert_str_eq(render(s, 1, NULL, APR_SUCCESS), dp_json_str(tp, o));
    ck_assert_str_eq(render(s, 0, "{\"label\":[\"a\"]}", APR_SUCCESS), dp_json_str(tp, o));
    dp_dk_snap_release(s);
    ck_assert_int_eq(dp_dk_snap_build(&s, "{}", 2), APR_EINVAL);
    ck_assert_int_eq(dp_dk_snap_build(&s, "[1]", 3), APR_EINVAL);
    ck_assert_int_eq(dp_dk_snap_build(&s, "[{", 2), APR_EINVAL);
    ck_assert_ptr_null(s);
}
END_TEST

START_TEST(snapshot_references)
{
    dp_dk_snap_t *s = snap();

    dp_dk_snap_ref(s);
    dp_dk_snap_release(s);
    ck_assert_int_eq(dp_dk_snap_count(s), 5);   /* still alive: one reference left */
    dp_dk_snap_release(s);
    dp_dk_snap_release(NULL);
}
END_TEST

static dp_dk_event_t event(const char *line)
{
    dp_dk_event_t ev;
    ck_assert_int_eq(dp_dk_event_parse(&ev, tp, line, strlen(line)), APR_SUCCESS);
    return ev;
}

START_TEST(events_parsed_and_sorted)
{
    dp_dk_event_t ev;

    ev = event("{\"status\":\"start\",\"id\":\"c1\",\"Type\":\"container\",\"Action\":\"start\","
               "\"Actor\":{\"ID\":\"c1\",\"Attributes\":{\"name\":\"web\",\"image\":\"x\"}},\"time\":1}");
    ck_assert_str_eq(ev.type, "container");
    ck_assert_str_eq(ev.action, "start");
    ck_assert_str_eq(ev.id, "c1");
    ck_assert_str_eq(ev.name, "web");
    ck_assert_int_eq(dp_dk_event_kind(&ev), DP_DK_EV_CHECK);
    ev = event("{\"Type\":\"container\",\"Action\":\"exec_start: sh -c true\",\"Actor\":{\"ID\":\"c1\"}}");
    ck_assert_str_eq(ev.action, "exec_start");
    ck_assert_int_eq(dp_dk_event_kind(&ev), DP_DK_EV_IGNORE);
    ev = event("{\"Type\":\"container\",\"Action\":\"health_status: healthy\",\"Actor\":{\"ID\":\"c1\"}}");
    ck_assert_str_eq(ev.action, "health_status");
    ck_assert_int_eq(dp_dk_event_kind(&ev), DP_DK_EV_RELOAD);
    ev = event("{\"Type\":\"container\",\"Action\":\"kill\",\"Actor\":{\"ID\":\"c1\"}}");
    ck_assert_int_eq(dp_dk_event_kind(&ev), DP_DK_EV_RELOAD);
    ev = event("{\"Type\":\"network\",\"Action\":\"connect\",\"Actor\":{\"ID\":\"n1\","
               "\"Attributes\":{\"container\":\"c1\",\"name\":\"net\"}}}");
    ck_assert_str_eq(ev.id, "c1");
    ck_assert_int_eq(dp_dk_event_kind(&ev), DP_DK_EV_RELOAD);
    ev = event("{\"Type\":\"network\",\"Action\":\"create\",\"Actor\":{\"ID\":\"n1\"}}");
    ck_assert_int_eq(dp_dk_event_kind(&ev), DP_DK_EV_IGNORE);
    ev = event("{\"Type\":\"image\",\"Action\":\"untag\",\"Actor\":{\"ID\":\"sha256:1\"}}");
    ck_assert_int_eq(dp_dk_event_kind(&ev), DP_DK_EV_RELOAD);
    ev = event("{\"Type\":\"image\",\"Action\":\"push\",\"Actor\":{\"ID\":\"x\"}}");
    ck_assert_int_eq(dp_dk_event_kind(&ev), DP_DK_EV_IGNORE);
    ev = event("{\"Type\":\"volume\",\"Action\":\"mount\",\"Actor\":{\"ID\":\"v\"}}");
    ck_assert_int_eq(dp_dk_event_kind(&ev), DP_DK_EV_IGNORE);
    ck_assert_int_eq(dp_dk_event_parse(&ev, tp, "{\"message\":\"bad\"}", 17), APR_EINVAL);
    ck_assert_int_eq(dp_dk_event_parse(&ev, tp, "nope", 4), APR_EINVAL);
}
END_TEST

START_TEST(reloads_checked_against_events)
{
    dp_dk_snap_t *s = snap();

    ck_assert_int_eq(dp_dk_snap_agrees(s, "create", "c4", NULL), 1);
    ck_assert_int_eq(dp_dk_snap_agrees(s, "create", "c9", NULL), 0);     /* not listed yet */
    ck_assert_int_eq(dp_dk_snap_agrees(s, "destroy", "c9", NULL), 1);
    ck_assert_int_eq(dp_dk_snap_agrees(s, "destroy", "c2", NULL), 0);    /* still listed */
    ck_assert_int_eq(dp_dk_snap_agrees(s, "start", "c1", NULL), 1);
    ck_assert_int_eq(dp_dk_snap_agrees(s, "start", "c4", NULL), 0);      /* still created */
    ck_assert_int_eq(dp_dk_snap_agrees(s, "die", "c1", NULL), 0);        /* still running */
    ck_assert_int_eq(dp_dk_snap_agrees(s, "stop", "c2", NULL), 1);
    ck_assert_int_eq(dp_dk_snap_agrees(s, "die", "c5", NULL), 1);        /* restarting */
    ck_assert_int_eq(dp_dk_snap_agrees(s, "pause", "c3", NULL), 1);
    ck_assert_int_eq(dp_dk_snap_agrees(s, "pause", "c1", NULL), 0);
    ck_assert_int_eq(dp_dk_snap_agrees(s, "unpause", "c3", NULL), 0);
    ck_assert_int_eq(dp_dk_snap_agrees(s, "rename", "c1", "web"), 1);
    ck_assert_int_eq(dp_dk_snap_agrees(s, "rename", "c1", "web2"), 0);
    ck_assert_int_eq(dp_dk_snap_agrees(s, "die", "c9", NULL), 1);        /* gone: destroy decides */
    dp_dk_snap_release(s);
}
END_TEST

TCase *tc_docker_watch(void)
{
    TCase *tc = tcase_create("docker_watch");
    tcase_add_test(tc, snapshot_renders_like_the_pass_through);
    tcase_add_test(tc, snapshot_filters_as_the_engine);
    tcase_add_test(tc, snapshot_leaves_the_rest_to_docker);
    tcase_add_test(tc, snapshot_of_nothing_and_of_garbage);
    tcase_add_test(tc, snapshot_references);
    tcase_add_test(tc, events_parsed_and_sorted);
    tcase_add_test(tc, reloads_checked_against_events);
    return tc;
}
