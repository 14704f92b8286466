/*
 * sipe_harness: drives the real Pidgin SIPE plugin (prpl-sipe, headless
 * libpurple) against a pchat server and checks the Persistent Chat happy path
 * with two accounts in one process.
 *
 *   sipe_harness --server=127.0.0.1:PORT --room="Demo Room" --log-dir=DIR
 *                [--timeout=60] [--step-timeout=20] [--bob-join=queued|list]
 *                [--alice-user=alice] [--bob-user=bob]
 *   sipe_harness --xml-selftest [--expect-next=/path/libpchat-sipe-xmlfix.so]
 *
 * One line per step on stdout ("ok: ..." / "FAIL: ... because ..."); every
 * libpurple/SIPE debug line (including each SIP message in and out) goes to
 * DIR/purple-debug.log. Exit status: 0 all steps passed, 1 a step failed,
 * 2 usage or set-up error.
 *
 * Everything waits on the GLib main loop with deadlines; nothing sleeps.
 *
 * The executable also defines xmlSAXUserParseMemory (tools/sipe-xmlfix) and
 * exports it, so the dlopen()ed SIPE plugin binds to the fixed version
 * instead of bookworm's broken one.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dladdr, RTLD_NEXT */
#endif

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <glib.h>
#include <glib/gstdio.h>

#include <libxml/parser.h>

#include <purple.h>

#define UI_ID "pchat-sipe-harness"
#define SIPE_PLUGIN_ID "prpl-sipe"
#define PASSWORD "pchat-test-password"

/* How often waits wake up to re-check deadlines and retry polls. */
#define WAIT_TICK_MS 100
/* How often to re-ask for the room list while group chat is still coming up. */
#define ROOMLIST_RETRY_US (250 * G_TIME_SPAN_MILLISECOND)

/* ------------------------------------------------------------------------ */
/* Options and global state                                                  */

static struct {
	char *server;
	char *room;
	char *log_dir;
	char *plugin_dir;
	char *bob_join;
	char *alice_user;
	char *bob_user;
	int timeout_s;
	int step_timeout_s;
	gboolean xml_selftest;
	char *expect_next;
} opt = {
	.plugin_dir = NULL,
	.timeout_s = 60,
	.step_timeout_s = 20,
};

static FILE *debug_log;
static gint64 run_started_us;
static gint64 run_deadline_us;
/* Error notifications (purple_notify_error etc.) from SIPE, in order. */
static GPtrArray *notices;

typedef struct {
	char *who;
	char *text;
	PurpleMessageFlags flags;
} ChatLine;

typedef struct {
	const char *nick; /* "alice" */
	char *username;   /* "alice@example.com" */
	PurpleAccount *account;
	gboolean signed_on;
	gboolean signed_off;
	char *conn_error;
	/* Room list as offered by SIPE's roomlist (name -> first field = uri). */
	PurpleRoomlist *roomlist;
	GPtrArray *room_names;
	GPtrArray *room_uris;
	gint64 roomlist_last_try_us;
	int roomlist_tries;
	PurpleConversation *chat;
	GPtrArray *lines;        /* ChatLine*, everything received in the chat */
	GPtrArray *conv_errors;  /* error/system lines written into the chat */
	GPtrArray *roster;       /* names that entered the chat roster */
} Client;

static Client clients[2] = {
	{ .nick = "alice" },
	{ .nick = "bob" },
};
#define ALICE (&clients[0])
#define BOB (&clients[1])

static void debug_write(const char *prefix, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void debug_write(const char *prefix, const char *fmt, ...)
{
	va_list ap;
	GDateTime *now;
	char *ts;

	if (debug_log == NULL)
		return;
	now = g_date_time_new_now_local();
	ts = g_date_time_format(now, "%H:%M:%S");
	fprintf(debug_log, "%s.%03d %s", ts, g_date_time_get_microsecond(now) / 1000, prefix);
	va_start(ap, fmt);
	vfprintf(debug_log, fmt, ap);
	va_end(ap);
	fputc('\n', debug_log);
	/* Flushed per line so the log is complete even if the plugin crashes. */
	fflush(debug_log);
	g_free(ts);
	g_date_time_unref(now);
}

/* GLib warnings from libpurple/SIPE (e.g. the known-harmless
 * g_hash_table_destroy CRITICAL at SIPE sign-out) go to the debug log next to
 * the SIP traffic they belong to, not between the step lines. */
static void glib_log_to_file(const char *domain, GLogLevelFlags level, const char *message,
			     gpointer data)
{
	(void)data;
	debug_write("glib: ", "%s%s%s%s", domain != NULL ? domain : "",
		    domain != NULL ? " " : "",
		    (level & G_LOG_LEVEL_CRITICAL) ? "CRITICAL: " :
		    (level & G_LOG_LEVEL_WARNING) ? "WARNING: " : "", message);
}

static Client *client_for_account(PurpleAccount *account)
{
	for (size_t i = 0; i < G_N_ELEMENTS(clients); i++)
		if (clients[i].account != NULL && clients[i].account == account)
			return &clients[i];
	return NULL;
}

static double elapsed_s(gint64 since_us)
{
	return (double)(g_get_monotonic_time() - since_us) / G_USEC_PER_SEC;
}

/* ------------------------------------------------------------------------ */
/* libpurple UI glue: event loop on GLib                                     */

#define GLIB_READ_COND (G_IO_IN | G_IO_HUP | G_IO_ERR)
#define GLIB_WRITE_COND (G_IO_OUT | G_IO_HUP | G_IO_ERR | G_IO_NVAL)

typedef struct {
	PurpleInputFunction function;
	gpointer data;
} IoClosure;

static gboolean io_invoke(GIOChannel *source, GIOCondition condition, gpointer data)
{
	IoClosure *closure = data;
	int cond = 0;

	if (condition & GLIB_READ_COND)
		cond |= PURPLE_INPUT_READ;
	if (condition & GLIB_WRITE_COND)
		cond |= PURPLE_INPUT_WRITE;
	closure->function(closure->data, g_io_channel_unix_get_fd(source),
			  (PurpleInputCondition)cond);
	return TRUE;
}

static guint input_add(gint fd, PurpleInputCondition condition,
		       PurpleInputFunction function, gpointer data)
{
	IoClosure *closure = g_new0(IoClosure, 1);
	GIOChannel *channel;
	int cond = 0;
	guint id;

	closure->function = function;
	closure->data = data;
	if (condition & PURPLE_INPUT_READ)
		cond |= GLIB_READ_COND;
	if (condition & PURPLE_INPUT_WRITE)
		cond |= GLIB_WRITE_COND;
	channel = g_io_channel_unix_new(fd);
	id = g_io_add_watch_full(channel, G_PRIORITY_DEFAULT, (GIOCondition)cond,
				 io_invoke, closure, g_free);
	g_io_channel_unref(channel);
	return id;
}

static PurpleEventLoopUiOps eventloop_ops = {
	.timeout_add = g_timeout_add,
	.timeout_remove = g_source_remove,
	.input_add = input_add,
	.input_remove = g_source_remove,
	.input_get_error = NULL,
	.timeout_add_seconds = g_timeout_add_seconds,
};

/* ------------------------------------------------------------------------ */
/* libpurple UI glue: core, debug, notify, conversations, room list          */

static void ui_prefs_init(void)
{
	/* A test must not probe the LAN: no UPnP / NAT-PMP port mapping, no
	 * public-IP discovery, no STUN/TURN. Set before purple_network_init(). */
	purple_prefs_add_none("/purple/network");
	purple_prefs_set_bool("/purple/network/map_ports", FALSE);
	purple_prefs_set_bool("/purple/network/auto_ip", FALSE);
	purple_prefs_set_string("/purple/network/stun_server", "");
	purple_prefs_set_string("/purple/network/turn_server", "");
	/* Connect straight to 127.0.0.1 even if the environment has proxies. */
	purple_prefs_add_none("/purple/proxy");
	purple_prefs_set_string("/purple/proxy/type", "none");
	/* Chat logs would only clutter the temp home. */
	purple_prefs_add_none("/purple/logging");
	purple_prefs_set_bool("/purple/logging/log_chats", FALSE);
	purple_prefs_set_bool("/purple/logging/log_ims", FALSE);
}

static GHashTable *ui_info;

static GHashTable *get_ui_info(void)
{
	if (ui_info == NULL) {
		ui_info = g_hash_table_new(g_str_hash, g_str_equal);
		g_hash_table_insert(ui_info, (gpointer) "name", (gpointer) "pchat sipe harness");
		g_hash_table_insert(ui_info, (gpointer) "version", (gpointer) "1");
		g_hash_table_insert(ui_info, (gpointer) "client_type", (gpointer) "bot");
	}
	return ui_info;
}

static PurpleCoreUiOps core_ops = {
	.ui_prefs_init = ui_prefs_init,
	.get_ui_info = get_ui_info,
};

static void debug_print(PurpleDebugLevel level, const char *category, const char *arg_s)
{
	static const char *const names[] = { "all", "misc", "info", "warning", "error", "fatal" };
	const char *lvl = (unsigned)level < G_N_ELEMENTS(names) ? names[level] : "?";
	char *prefix = g_strdup_printf("%s %s: ", lvl, category != NULL ? category : "-");
	/* libpurple 2 passes the caller's trailing newline through. */
	size_t len = arg_s != NULL ? strlen(arg_s) : 0;

	while (len > 0 && (arg_s[len - 1] == '\n' || arg_s[len - 1] == '\r'))
		len--;
	debug_write(prefix, "%.*s", (int)len, arg_s != NULL ? arg_s : "");
	g_free(prefix);
}

static gboolean debug_is_enabled(PurpleDebugLevel level, const char *category)
{
	(void)level;
	(void)category;
	return TRUE;
}

static PurpleDebugUiOps debug_ops = {
	.print = debug_print,
	.is_enabled = debug_is_enabled,
};

static void *notify_message(PurpleNotifyMsgType type, const char *title,
			    const char *primary, const char *secondary)
{
	char *text = g_strdup_printf("%s%s: %s%s%s",
				     type == PURPLE_NOTIFY_MSG_ERROR ? "error " :
				     type == PURPLE_NOTIFY_MSG_WARNING ? "warning " : "",
				     title != NULL ? title : "",
				     primary != NULL ? primary : "",
				     secondary != NULL ? " / " : "",
				     secondary != NULL ? secondary : "");

	debug_write("harness notify: ", "%s", text);
	g_ptr_array_add(notices, text);
	return NULL;
}

static void *notify_formatted(const char *title, const char *primary,
			      const char *secondary, const char *text)
{
	(void)text;
	return notify_message(PURPLE_NOTIFY_MSG_INFO, title, primary, secondary);
}

static PurpleNotifyUiOps notify_ops = {
	.notify_message = notify_message,
	.notify_formatted = notify_formatted,
};

static void write_conv(PurpleConversation *conv, const char *name, const char *alias,
		       const char *message, PurpleMessageFlags flags, time_t mtime)
{
	Client *client = client_for_account(purple_conversation_get_account(conv));

	(void)alias;
	(void)mtime;
	debug_write("harness conv: ", "[%s in %s] flags=0x%x %s: %s",
		    client != NULL ? client->nick : "?",
		    purple_conversation_get_name(conv), (unsigned)flags,
		    name != NULL ? name : "(system)", message != NULL ? message : "");
	/* SIPE reports undelivered posts ("This message was not delivered ...")
	 * as error lines in the conversation; keep them for the failure text. */
	if (client != NULL && (flags & PURPLE_MESSAGE_ERROR))
		g_ptr_array_add(client->conv_errors, g_strdup(message != NULL ? message : ""));
}

static PurpleConversationUiOps conv_ops = {
	.write_conv = write_conv,
};

static void roomlist_add_room(PurpleRoomlist *list, PurpleRoomlistRoom *room)
{
	Client *client = client_for_account(list->account);
	GList *fields = purple_roomlist_room_get_fields(room);
	/* SIPE puts the ma-chan:// URI in the first (hidden) field. */
	const char *uri = fields != NULL ? fields->data : NULL;

	debug_write("harness roomlist: ", "room '%s' uri '%s'",
		    purple_roomlist_room_get_name(room), uri != NULL ? uri : "(none)");
	if (client == NULL || list != client->roomlist)
		return;
	g_ptr_array_add(client->room_names, g_strdup(purple_roomlist_room_get_name(room)));
	g_ptr_array_add(client->room_uris, g_strdup(uri != NULL ? uri : ""));
}

static PurpleRoomlistUiOps roomlist_ops = {
	.add_room = roomlist_add_room,
};

/* ------------------------------------------------------------------------ */
/* Signals                                                                   */

static void on_signed_on(PurpleConnection *gc)
{
	Client *client = client_for_account(purple_connection_get_account(gc));

	if (client != NULL)
		client->signed_on = TRUE;
}

static void on_signed_off(PurpleConnection *gc)
{
	Client *client = client_for_account(purple_connection_get_account(gc));

	if (client != NULL)
		client->signed_off = TRUE;
}

static void on_connection_error(PurpleConnection *gc, PurpleConnectionError err,
				const char *desc)
{
	Client *client = client_for_account(purple_connection_get_account(gc));

	static const char *const names[] = {
		"network error", "invalid username", "authentication failed",
		"authentication impossible", "no SSL support", "encryption error",
		"name in use", "invalid settings", "certificate not provided",
		"certificate untrusted", "certificate expired", "certificate not activated",
		"certificate hostname mismatch", "certificate fingerprint mismatch",
		"certificate self-signed", "certificate error",
	};
	const char *name = (unsigned)err < G_N_ELEMENTS(names) ? names[err] : "other error";

	if (client != NULL && client->conn_error == NULL)
		client->conn_error = g_strdup_printf("connection error (%s): %s", name,
						     desc != NULL ? desc : "(no description)");
}

static void on_chat_joined(PurpleConversation *conv)
{
	Client *client = client_for_account(purple_conversation_get_account(conv));

	if (client != NULL && client->chat == NULL)
		client->chat = conv;
}

static void on_received_chat_msg(PurpleAccount *account, const char *sender,
				 const char *message, PurpleConversation *conv,
				 PurpleMessageFlags flags)
{
	Client *client = client_for_account(account);
	ChatLine *line;

	if (client == NULL || conv != client->chat)
		return;
	line = g_new0(ChatLine, 1);
	line->who = g_strdup(sender != NULL ? sender : "");
	line->text = g_strdup(message != NULL ? message : "");
	line->flags = flags;
	g_ptr_array_add(client->lines, line);
}

static void on_chat_buddy_joined(PurpleConversation *conv, const char *name,
				 PurpleConvChatBuddyFlags flags, gboolean new_arrival)
{
	Client *client = client_for_account(purple_conversation_get_account(conv));

	(void)flags;
	(void)new_arrival;
	if (client != NULL && name != NULL)
		g_ptr_array_add(client->roster, g_strdup(name));
}

static void connect_signals(void)
{
	static int handle;
	void *conns = purple_connections_get_handle();
	void *convs = purple_conversations_get_handle();

	purple_signal_connect(conns, "signed-on", &handle, PURPLE_CALLBACK(on_signed_on), NULL);
	purple_signal_connect(conns, "signed-off", &handle, PURPLE_CALLBACK(on_signed_off), NULL);
	purple_signal_connect(conns, "connection-error", &handle,
			      PURPLE_CALLBACK(on_connection_error), NULL);
	purple_signal_connect(convs, "chat-joined", &handle, PURPLE_CALLBACK(on_chat_joined), NULL);
	purple_signal_connect(convs, "received-chat-msg", &handle,
			      PURPLE_CALLBACK(on_received_chat_msg), NULL);
	purple_signal_connect(convs, "chat-buddy-joined", &handle,
			      PURPLE_CALLBACK(on_chat_buddy_joined), NULL);
}

/* ------------------------------------------------------------------------ */
/* Waiting with deadlines                                                    */

typedef enum { WAIT_PENDING, WAIT_DONE, WAIT_FAILED } WaitState;

/* Set by a condition that returns WAIT_FAILED (or by wait_for on timeout). */
static char *wait_reason;

static void set_reason(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static void set_reason(const char *fmt, ...)
{
	va_list ap;

	g_free(wait_reason);
	va_start(ap, fmt);
	wait_reason = g_strdup_vprintf(fmt, ap);
	va_end(ap);
}

static gboolean wake_up(gpointer data)
{
	(void)data;
	return G_SOURCE_CONTINUE;
}

/* Runs the main loop until cond() is no longer pending, the step timeout or
 * the overall deadline passes. A periodic wake-up makes sure deadlines and
 * polled conditions are re-checked even when no I/O happens. */
static gboolean wait_for(WaitState (*cond)(Client *), Client *client, const char *what)
{
	gint64 start = g_get_monotonic_time();
	gint64 deadline = start + (gint64)opt.step_timeout_s * G_USEC_PER_SEC;
	guint tick = g_timeout_add(WAIT_TICK_MS, wake_up, NULL);
	WaitState state;

	if (deadline > run_deadline_us)
		deadline = run_deadline_us;
	g_clear_pointer(&wait_reason, g_free);
	while ((state = cond(client)) == WAIT_PENDING && g_get_monotonic_time() < deadline)
		g_main_context_iteration(NULL, TRUE);
	g_source_remove(tick);

	if (state == WAIT_PENDING) {
		char *detail = wait_reason;

		wait_reason = NULL;
		set_reason("no %s within %.1f s%s%s%s", what, elapsed_s(start),
			   deadline == run_deadline_us ? " (overall --timeout reached)" : "",
			   detail != NULL ? ": " : "", detail != NULL ? detail : "");
		g_free(detail);
	}
	return state == WAIT_DONE;
}

/* Lets queued work (socket writes, callbacks) run for a bounded time. */
static void pump_for(int ms)
{
	gint64 until = g_get_monotonic_time() + (gint64)ms * G_TIME_SPAN_MILLISECOND;
	guint tick = g_timeout_add(WAIT_TICK_MS < ms ? WAIT_TICK_MS : (guint)ms, wake_up, NULL);

	while (g_get_monotonic_time() < until)
		g_main_context_iteration(NULL, TRUE);
	g_source_remove(tick);
}

/* ------------------------------------------------------------------------ */
/* Step reporting                                                            */

static int steps_ok;
static gint64 step_started_us;

static void step_begin(void)
{
	step_started_us = g_get_monotonic_time();
}

static void step_ok(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static void step_ok(const char *fmt, ...)
{
	va_list ap;
	char *text;

	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	printf("ok: %s (%.3f s)\n", text, elapsed_s(step_started_us));
	fflush(stdout);
	debug_write("harness step: ", "ok: %s", text);
	g_free(text);
	steps_ok++;
	step_started_us = g_get_monotonic_time();
}

static void note(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

static void note(const char *fmt, ...)
{
	va_list ap;
	char *text;

	va_start(ap, fmt);
	text = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	printf("note: %s\n", text);
	fflush(stdout);
	debug_write("harness note: ", "%s", text);
	g_free(text);
}

/* Appends what SIPE told the "user" (error pop-ups, undelivered messages,
 * connection errors) to a failure reason: it is usually the real cause. */
static char *with_diagnostics(const char *reason)
{
	GString *s = g_string_new(reason);

	for (guint i = 0; i < notices->len; i++)
		g_string_append_printf(s, "; sipe notified: %s", (char *)notices->pdata[i]);
	for (size_t c = 0; c < G_N_ELEMENTS(clients); c++) {
		Client *client = &clients[c];

		if (client->conn_error != NULL && strstr(reason, client->conn_error) == NULL)
			g_string_append_printf(s, "; %s got %s", client->nick, client->conn_error);
		if (client->conv_errors != NULL)
			for (guint i = 0; i < client->conv_errors->len; i++)
				g_string_append_printf(s, "; %s's chat shows error: %s", client->nick,
						       (char *)client->conv_errors->pdata[i]);
	}
	return g_string_free(s, FALSE);
}

static void step_fail(const char *step, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

static void step_fail(const char *step, const char *fmt, ...)
{
	va_list ap;
	char *reason, *full;

	va_start(ap, fmt);
	reason = g_strdup_vprintf(fmt, ap);
	va_end(ap);
	full = with_diagnostics(reason);
	printf("FAIL: %s because %s (after %.2f s; %d steps passed before)\n", step, full,
	       elapsed_s(step_started_us), steps_ok);
	fflush(stdout);
	debug_write("harness step: ", "FAIL: %s because %s", step, full);
	g_free(full);
	g_free(reason);
}

/* ------------------------------------------------------------------------ */
/* Conditions                                                                */

static WaitState conn_failed(Client *client)
{
	if (client->conn_error != NULL) {
		set_reason("%s", client->conn_error);
		return WAIT_FAILED;
	}
	if (client->signed_off) {
		set_reason("%s was signed off", client->nick);
		return WAIT_FAILED;
	}
	return WAIT_PENDING;
}

static WaitState cond_signed_on(Client *client)
{
	if (client->signed_on)
		return WAIT_DONE;
	if (client->conn_error != NULL) {
		set_reason("%s", client->conn_error);
		return WAIT_FAILED;
	}
	return WAIT_PENDING;
}

static gboolean notice_contains(const char *needle)
{
	for (guint i = 0; i < notices->len; i++)
		if (strstr(notices->pdata[i], needle) != NULL)
			return TRUE;
	return FALSE;
}

/* SIPE refuses the room list (returns NULL) until its group-chat channel
 * INVITE has succeeded, which happens some round trips after sign-on; so we
 * keep asking, like a user pressing "Get List" again. */
static WaitState cond_roomlist(Client *client)
{
	if (conn_failed(client) == WAIT_FAILED)
		return WAIT_FAILED;
	if (notice_contains("Error retrieving room list")) {
		set_reason("SIPE reported an error for cmd:chansrch");
		return WAIT_FAILED;
	}
	if (client->roomlist == NULL) {
		gint64 now = g_get_monotonic_time();

		if (now - client->roomlist_last_try_us >= ROOMLIST_RETRY_US) {
			PurpleConnection *gc = purple_account_get_connection(client->account);

			client->roomlist_last_try_us = now;
			client->roomlist_tries++;
			client->roomlist = gc != NULL ? purple_roomlist_get_list(gc) : NULL;
			/* Our own reference: SIPE drops its reference when the list is
			 * complete, and we still want to look at it. */
			if (client->roomlist != NULL)
				purple_roomlist_ref(client->roomlist);
		}
		if (client->roomlist == NULL) {
			set_reason("SIPE group chat never became ready: purple_roomlist_get_list() "
				   "returned NULL %d times (SIPE returns NULL until the channel INVITE "
				   "got 200 OK after rpl:requri)", client->roomlist_tries);
			return WAIT_PENDING;
		}
	}
	if (purple_roomlist_get_in_progress(client->roomlist)) {
		set_reason("cmd:chansrch sent, no rpl:chansrch processed");
		return WAIT_PENDING;
	}
	return WAIT_DONE;
}

static WaitState cond_joined(Client *client)
{
	if (client->chat != NULL)
		return WAIT_DONE;
	if (notice_contains("Error joining chat room")) {
		set_reason("SIPE reported an error for the join");
		return WAIT_FAILED;
	}
	return conn_failed(client);
}

/* What the current wait is looking for in a client's chat. */
static struct {
	const char *author; /* user@domain */
	const char *text;
} expect;

static gboolean same_user(const char *who, const char *user)
{
	if (g_ascii_strncasecmp(who, "sip:", 4) == 0)
		who += 4;
	return g_ascii_strcasecmp(who, user) == 0;
}

static guint count_lines(Client *client, const char *author, const char *text)
{
	guint n = 0;

	for (guint i = 0; i < client->lines->len; i++) {
		ChatLine *line = client->lines->pdata[i];

		if (same_user(line->who, author) && strstr(line->text, text) != NULL)
			n++;
	}
	return n;
}

static char *describe_lines(Client *client)
{
	GString *s = g_string_new(NULL);

	if (client->lines->len == 0)
		return g_string_free(s, FALSE);
	g_string_append_printf(s, "%s's chat got %u line(s):", client->nick, client->lines->len);
	for (guint i = 0; i < client->lines->len; i++) {
		ChatLine *line = client->lines->pdata[i];

		g_string_append_printf(s, " [%s: %s]", line->who, line->text);
	}
	return g_string_free(s, FALSE);
}

static WaitState cond_line(Client *client)
{
	char *seen;

	if (count_lines(client, expect.author, expect.text) > 0)
		return WAIT_DONE;
	if (client->conv_errors->len > 0) {
		set_reason("SIPE wrote an error into %s's chat", client->nick);
		return WAIT_FAILED;
	}
	seen = describe_lines(client);
	set_reason("%s%s", *seen != '\0' ? seen : "nothing arrived in the chat",
		   same_user(client->username, expect.author) ?
		   " (SIPE never shows its own post locally: the server must send the "
		   "grpchat back to its author too)" : "");
	g_free(seen);
	return conn_failed(client);
}

static WaitState cond_signed_off(Client *client)
{
	return client->signed_off ? WAIT_DONE : WAIT_PENDING;
}

/* ------------------------------------------------------------------------ */
/* Scenario                                                                  */

static void client_init(Client *client)
{
	client->username = g_strdup_printf("%s@example.com", client->nick);
	client->room_names = g_ptr_array_new_with_free_func(g_free);
	client->room_uris = g_ptr_array_new_with_free_func(g_free);
	client->lines = g_ptr_array_new();
	client->conv_errors = g_ptr_array_new_with_free_func(g_free);
	client->roster = g_ptr_array_new_with_free_func(g_free);
}

static void client_sign_in(Client *client)
{
	PurpleAccount *account = purple_account_new(client->username, SIPE_PLUGIN_ID);

	client->account = account;
	purple_account_set_password(account, PASSWORD);
	purple_account_set_remember_password(account, TRUE);
	/* Account options as in xccos-wire.md section 8: fixed server, plain TCP
	 * (auto would mean TLS), no calendar/EWS publishing. */
	purple_account_set_string(account, "server", opt.server);
	purple_account_set_string(account, "transport", "tcp");
	purple_account_set_bool(account, "dont-publish", TRUE);
	purple_accounts_add(account);
	purple_account_set_enabled(account, UI_ID, TRUE);
	/* set_enabled only connects if the account's status is an online one. */
	if (purple_account_is_disconnected(account))
		purple_account_connect(account);
}

static void client_sign_out(Client *client)
{
	if (client->account != NULL && !purple_account_is_disconnected(client->account))
		purple_account_set_enabled(client->account, UI_ID, FALSE);
}

static gboolean find_room(Client *client, char **uri_out)
{
	for (guint i = 0; i < client->room_names->len; i++)
		if (strcmp(client->room_names->pdata[i], opt.room) == 0) {
			*uri_out = g_strdup(client->room_uris->pdata[i]);
			return TRUE;
		}
	return FALSE;
}

static char *room_names_text(Client *client)
{
	GString *s = g_string_new(NULL);

	for (guint i = 0; i < client->room_names->len; i++)
		g_string_append_printf(s, "%s'%s' (%s)", i ? ", " : "",
				       (char *)client->room_names->pdata[i],
				       (char *)client->room_uris->pdata[i]);
	return g_string_free(s, FALSE);
}

static void join_room(Client *client, const char *uri)
{
	/* Same components Pidgin's "Join a Chat" builds from the room list. */
	GHashTable *components = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);

	g_hash_table_insert(components, g_strdup("uri"), g_strdup(uri));
	serv_join_chat(purple_account_get_connection(client->account), components);
	g_hash_table_destroy(components);
}

static void post(Client *client, const char *text)
{
	purple_conv_chat_send(PURPLE_CONV_CHAT(client->chat), text);
}

/* Prints the sign-in step for one client; FALSE if it failed. */
static gboolean sign_in_step(Client *client)
{
	char *step = g_strdup_printf("%s signed in", client->nick);
	gboolean ok;

	step_begin();
	client_sign_in(client);
	ok = wait_for(cond_signed_on, client, "signed-on");
	if (ok)
		step_ok("%s", step);
	else
		step_fail(step, "%s", wait_reason);
	g_free(step);
	return ok;
}

static gboolean roomlist_step(Client *client, char **uri)
{
	char *names;

	char *fetched = g_strdup_printf("%s fetched the room list", client->nick);
	char *found = g_strdup_printf("%s found '%s' in the room list", client->nick, opt.room);
	gboolean ok = FALSE;

	step_begin();
	if (!wait_for(cond_roomlist, client, "room list")) {
		step_fail(fetched, "%s", wait_reason);
		goto out;
	}
	names = room_names_text(client);
	if (!find_room(client, uri)) {
		step_fail(found, "rpl:chansrch listed %u room(s) [%s] and none is named '%s'",
			  client->room_names->len, names, opt.room);
		g_free(names);
		goto out;
	}
	g_free(names);
	if (!g_str_has_prefix(*uri, "ma-chan://")) {
		step_fail(found, "room '%s' has uri '%s'; SIPE only joins ma-chan:// URIs",
			  opt.room, *uri);
		goto out;
	}
	step_ok("%s (%u room(s), %d get_list call(s)) and found '%s' = %s", fetched,
		client->room_names->len, client->roomlist_tries, opt.room, *uri);
	ok = TRUE;
out:
	g_free(fetched);
	g_free(found);
	return ok;
}

static gboolean join_step(Client *client, const char *how)
{
	char *step = g_strdup_printf("%s joined '%s'", client->nick, opt.room);
	gboolean ok;

	if (!wait_for(cond_joined, client, "chat-joined")) {
		step_fail(step, "%s", wait_reason);
		g_free(step);
		return FALSE;
	}
	ok = TRUE;
	step_ok("%s %s; chat window '%s'", step, how, purple_conversation_get_name(client->chat));
	if (strcmp(purple_conversation_get_name(client->chat), opt.room) != 0)
		note("chat title '%s' differs from the room list name '%s' (rpl:join chanib name)",
		     purple_conversation_get_name(client->chat), opt.room);
	g_free(step);
	return ok;
}

static gboolean see_line_step(Client *client, Client *author, const char *text,
			      const char *step_fmt, ...) G_GNUC_PRINTF(4, 5);

static gboolean see_line_step(Client *client, Client *author, const char *text,
			      const char *step_fmt, ...)
{
	va_list ap;
	char *step;
	gboolean ok;

	va_start(ap, step_fmt);
	step = g_strdup_vprintf(step_fmt, ap);
	va_end(ap);
	expect.author = author->username;
	expect.text = text;
	ok = wait_for(cond_line, client, "matching received-chat-msg");
	if (ok)
		step_ok("%s", step);
	else
		step_fail(step, "%s", wait_reason);
	g_free(step);
	return ok;
}

static void check_duplicates(Client *client, Client *author, const char *text)
{
	guint n = count_lines(client, author->username, text);

	if (n > 1)
		note("WARNING: %s saw '%s' %u times (duplicated history or echo)", client->nick, text, n);
}

static int run_scenario(void)
{
	char *nonce = g_strdup_printf("%08x%04x", g_random_int(), (unsigned)getpid() & 0xffff);
	char *first = g_strdup_printf("first %s", nonce);
	char *second = g_strdup_printf("second %s", nonce);
	char *uri = NULL;
	int rc = 1;

	client_init(ALICE);
	client_init(BOB);

	/* (a) */
	if (!sign_in_step(ALICE))
		goto out;

	/* (b) */
	if (!roomlist_step(ALICE, &uri))
		goto out;

	/* (c) */
	step_begin();
	join_room(ALICE, uri);
	if (!join_step(ALICE, "(cmd:join)"))
		goto out;

	/* (d) SIPE never shows its own post locally: seeing it means the server
	 * echoed the grpchat back to its author. */
	step_begin();
	post(ALICE, first);
	if (!see_line_step(ALICE, ALICE, first, "%s posted and saw the server echo of 'first'",
			   ALICE->nick))
		goto out;

	/* (e) Bob joins right after sign-on, before SIPE's group chat is up:
	 * SIPE queues the room and joins it with cmd:bjoin once connected
	 * (the auto-join / reconnect path). --bob-join=list uses the room list
	 * and cmd:join like alice instead. */
	if (!sign_in_step(BOB))
		goto out;
	step_begin();
	if (strcmp(opt.bob_join, "list") == 0) {
		char *bob_uri = NULL;

		if (!roomlist_step(BOB, &bob_uri))
			goto out;
		join_room(BOB, bob_uri);
		g_free(bob_uri);
		if (!join_step(BOB, "(cmd:join)"))
			goto out;
	} else {
		join_room(BOB, uri);
		if (!join_step(BOB, "(queued at sign-on, cmd:bjoin)"))
			goto out;
	}
	if (!see_line_step(BOB, ALICE, first, "%s received 'first' as back-chat (rpl:bccontext)",
			   BOB->nick))
		goto out;

	/* (f) */
	step_begin();
	post(ALICE, second);
	if (!see_line_step(BOB, ALICE, second, "%s received 'second' live", BOB->nick))
		goto out;
	if (!see_line_step(ALICE, ALICE, second, "%s saw the server echo of 'second'", ALICE->nick))
		goto out;

	/* Not part of the pass criteria, but worth seeing in the output. */
	check_duplicates(ALICE, ALICE, first);
	check_duplicates(ALICE, ALICE, second);
	check_duplicates(BOB, ALICE, first);
	check_duplicates(BOB, ALICE, second);
	{
		gboolean bob_in_alice_roster = FALSE;

		for (guint i = 0; i < ALICE->roster->len; i++)
			if (same_user(ALICE->roster->pdata[i], BOB->username))
				bob_in_alice_roster = TRUE;
		if (!bob_in_alice_roster)
			note("%s never appeared in %s's chat roster (no ntc:join/ntc:bjoin seen)",
			     BOB->nick, ALICE->nick);
	}

	/* (g) */
	step_begin();
	client_sign_out(BOB);
	client_sign_out(ALICE);
	if (!wait_for(cond_signed_off, ALICE, "signed-off") ||
	    !wait_for(cond_signed_off, BOB, "signed-off")) {
		step_fail("both signed out", "%s", wait_reason);
		goto out;
	}
	step_ok("%s and %s signed out", ALICE->nick, BOB->nick);
	rc = 0;

out:
	for (size_t i = 0; i < G_N_ELEMENTS(clients); i++)
		if (clients[i].roomlist != NULL)
			g_clear_pointer(&clients[i].roomlist, purple_roomlist_unref);
	/* Leave the server in a clean state whatever happened. */
	client_sign_out(BOB);
	client_sign_out(ALICE);
	/* Give SIPE's last writes (BYE, un-SUBSCRIBE) a moment to hit the wire. */
	pump_for(200);
	g_free(uri);
	g_free(first);
	g_free(second);
	g_free(nonce);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* XML self-test: proves the xmlSAXUserParseMemory work-around               */

static int selftest_elements;

static void selftest_start(void *ctx, const xmlChar *name, const xmlChar **atts)
{
	(void)ctx;
	(void)name;
	(void)atts;
	selftest_elements++;
}

static void selftest_end(void *ctx, const xmlChar *name)
{
	(void)ctx;
	(void)name;
}

/* Parses a 3-element document with a handler shaped like SIPE's (SAX2 magic,
 * SAX1 callbacks only) and returns how many start callbacks fired. */
static int selftest_parse(int (*parse)(xmlSAXHandlerPtr, void *, const char *, int))
{
	static const char doc[] = "<xccos><rpl id=\"rpl:requri\"/><x/></xccos>";
	xmlSAXHandler sax;

	memset(&sax, 0, sizeof(sax));
	sax.startElement = selftest_start;
	sax.endElement = selftest_end;
	sax.initialized = XML_SAX2_MAGIC;
	selftest_elements = 0;
	parse(&sax, NULL, doc, (int)strlen(doc));
	return selftest_elements;
}

static int xml_selftest(void)
{
	typedef int (*parse_fn)(xmlSAXHandlerPtr, void *, const char *, int);
	parse_fn next = (parse_fn)dlsym(RTLD_NEXT, "xmlSAXUserParseMemory");
	parse_fn global = (parse_fn)dlsym(RTLD_DEFAULT, "xmlSAXUserParseMemory");
	Dl_info info;
	const char *next_file = "?";
	int own, via_next, rc = 0;

	if (next == NULL) {
		printf("FAIL: xml self-test because libxml2's xmlSAXUserParseMemory is not loaded\n");
		return 1;
	}
	if (dladdr((void *)next, &info) != 0 && info.dli_fname != NULL)
		next_file = info.dli_fname;

	/* What SIPE in this process binds to: must be the executable's own. */
	if (global != xmlSAXUserParseMemory) {
		printf("FAIL: xml self-test because the executable does not export "
		       "xmlSAXUserParseMemory (dynamic lookup finds another one); link with "
		       "-Wl,--export-dynamic-symbol=xmlSAXUserParseMemory\n");
		rc = 1;
	}
	own = selftest_parse(xmlSAXUserParseMemory);
	printf("%s: built-in work-around fires %d of 3 SAX1 callbacks\n", own == 3 ? "ok" : "FAIL", own);
	if (own != 3)
		rc = 1;

	via_next = selftest_parse(next);
	printf("info: next xmlSAXUserParseMemory is in %s: %d of 3 callbacks%s\n", next_file,
	       via_next, via_next == 3 ? "" : " (the bookworm libxml2 bug)");
	if (opt.expect_next != NULL) {
		char *want = realpath(opt.expect_next, NULL);
		char *got = realpath(next_file, NULL);
		gboolean same = want != NULL && got != NULL && strcmp(want, got) == 0;

		if (!same) {
			printf("FAIL: xml self-test because the next xmlSAXUserParseMemory comes from "
			       "%s, not the preloaded %s\n", next_file, opt.expect_next);
			rc = 1;
		} else if (via_next != 3) {
			printf("FAIL: xml self-test because the preloaded %s fires only %d of 3 callbacks\n",
			       opt.expect_next, via_next);
			rc = 1;
		} else {
			printf("ok: LD_PRELOAD library %s fires 3 of 3 callbacks\n", opt.expect_next);
		}
		free(want);
		free(got);
	}
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Main                                                                      */

static void remove_tree(const char *path)
{
	GDir *dir = g_dir_open(path, 0, NULL);

	if (dir != NULL) {
		const char *name;

		while ((name = g_dir_read_name(dir)) != NULL) {
			char *child = g_build_filename(path, name, NULL);

			if (g_file_test(child, G_FILE_TEST_IS_DIR) &&
			    !g_file_test(child, G_FILE_TEST_IS_SYMLINK))
				remove_tree(child);
			else
				g_unlink(child);
			g_free(child);
		}
		g_dir_close(dir);
	}
	g_rmdir(path);
}

static gboolean parse_args(int argc, char **argv)
{
	GOptionEntry entries[] = {
		{ "server", 0, 0, G_OPTION_ARG_STRING, &opt.server, "pchat SIP server", "HOST:PORT" },
		{ "room", 0, 0, G_OPTION_ARG_STRING, &opt.room, "room name to find and join", "NAME" },
		{ "log-dir", 0, 0, G_OPTION_ARG_STRING, &opt.log_dir, "where purple-debug.log goes", "DIR" },
		{ "timeout", 0, 0, G_OPTION_ARG_INT, &opt.timeout_s, "overall deadline (default 60)", "S" },
		{ "step-timeout", 0, 0, G_OPTION_ARG_INT, &opt.step_timeout_s,
		  "deadline per step (default 20)", "S" },
		{ "bob-join", 0, 0, G_OPTION_ARG_STRING, &opt.bob_join,
		  "queued (default: join at sign-on, cmd:bjoin) or list (room list + cmd:join)", "HOW" },
		{ "alice-user", 0, 0, G_OPTION_ARG_STRING, &opt.alice_user,
		  "user part of the first account (default alice)", "NAME" },
		{ "bob-user", 0, 0, G_OPTION_ARG_STRING, &opt.bob_user,
		  "user part of the second account (default bob)", "NAME" },
		{ "plugin-dir", 0, 0, G_OPTION_ARG_STRING, &opt.plugin_dir,
		  "extra libpurple plugin directory (default /usr/lib/purple-2)", "DIR" },
		{ "xml-selftest", 0, 0, G_OPTION_ARG_NONE, &opt.xml_selftest,
		  "only check the xmlSAXUserParseMemory work-around", NULL },
		{ "expect-next", 0, 0, G_OPTION_ARG_FILENAME, &opt.expect_next,
		  "with --xml-selftest: the LD_PRELOADed fix library that must be next", "LIB" },
		{ NULL, 0, 0, 0, NULL, NULL, NULL },
	};
	GOptionContext *ctx = g_option_context_new("- drive pidgin-sipe against a pchat server");
	GError *error = NULL;
	gboolean ok;

	g_option_context_add_main_entries(ctx, entries, NULL);
	ok = g_option_context_parse(ctx, &argc, &argv, &error);
	if (!ok) {
		fprintf(stderr, "sipe_harness: %s\n", error->message);
		g_error_free(error);
	} else if (!opt.xml_selftest && (opt.server == NULL || opt.room == NULL || opt.log_dir == NULL)) {
		fprintf(stderr, "usage: sipe_harness --server=HOST:PORT --room=NAME --log-dir=DIR "
			"[--timeout=60] [--step-timeout=20] [--bob-join=queued|list]\n"
			"                    [--alice-user=alice] [--bob-user=bob]\n"
			"       sipe_harness --xml-selftest [--expect-next=LIB]\n");
		ok = FALSE;
	}
	if (opt.bob_join == NULL)
		opt.bob_join = g_strdup("queued");
	/* Other names let several harness processes share one server. */
	if (opt.alice_user != NULL)
		ALICE->nick = opt.alice_user;
	if (opt.bob_user != NULL)
		BOB->nick = opt.bob_user;
	if (ok && strcmp(ALICE->nick, BOB->nick) == 0) {
		fprintf(stderr, "sipe_harness: the two accounts need different names\n");
		ok = FALSE;
	}
	if (ok && strcmp(opt.bob_join, "queued") != 0 && strcmp(opt.bob_join, "list") != 0) {
		fprintf(stderr, "sipe_harness: --bob-join must be 'queued' or 'list'\n");
		ok = FALSE;
	}
	if (ok && (opt.timeout_s <= 0 || opt.step_timeout_s <= 0)) {
		fprintf(stderr, "sipe_harness: timeouts must be positive\n");
		ok = FALSE;
	}
	g_option_context_free(ctx);
	return ok;
}

int main(int argc, char **argv)
{
	char *home = NULL, *log_path;
	GError *error = NULL;
	int rc;

	if (!parse_args(argc, argv))
		return 2;
	if (opt.xml_selftest)
		return xml_selftest();

	run_started_us = g_get_monotonic_time();
	run_deadline_us = run_started_us + (gint64)opt.timeout_s * G_USEC_PER_SEC;
	notices = g_ptr_array_new_with_free_func(g_free);

	if (g_mkdir_with_parents(opt.log_dir, 0700) != 0) {
		fprintf(stderr, "sipe_harness: cannot create %s: %s\n", opt.log_dir, g_strerror(errno));
		return 2;
	}
	log_path = g_build_filename(opt.log_dir, "purple-debug.log", NULL);
	debug_log = fopen(log_path, "w");
	if (debug_log == NULL) {
		fprintf(stderr, "sipe_harness: cannot write %s: %s\n", log_path, g_strerror(errno));
		return 2;
	}

	/* A fresh libpurple home per run: no accounts, prefs or blist from
	 * earlier runs or from the user's real ~/.purple. */
	home = g_dir_make_tmp("pchat-sipe-purple-XXXXXX", &error);
	if (home == NULL) {
		fprintf(stderr, "sipe_harness: cannot create temp dir: %s\n", error->message);
		return 2;
	}
	purple_util_set_user_dir(home);
	g_log_set_default_handler(glib_log_to_file, NULL);
	/* Keep libpurple off the session bus: it would autolaunch a dbus-daemon
	 * or claim the bus name of a Pidgin the user is running. */
	g_setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/pchat-sipe-harness", TRUE);

	/* SIPE logs SIP traffic only if debugging is on; "unsafe" adds the full
	 * message contents. purple_debug_set_enabled(TRUE) would also copy every
	 * line to stdout and drown the step lines, so the lines reach the log
	 * file through debug_ops only, and the verbose/unsafe flags (which SIPE
	 * also checks) switch SIPE's logging on. */
	purple_debug_set_enabled(FALSE);
	purple_debug_set_verbose(TRUE);
	purple_debug_set_unsafe(TRUE);
	purple_debug_set_ui_ops(&debug_ops);
	purple_core_set_ui_ops(&core_ops);
	purple_eventloop_set_ui_ops(&eventloop_ops);
	purple_notify_set_ui_ops(&notify_ops);
	purple_conversations_set_ui_ops(&conv_ops);
	purple_roomlist_set_ui_ops(&roomlist_ops);
	/* Debian installs the SIPE plugin outside libpurple's multiarch dir. */
	purple_plugins_add_search_path(opt.plugin_dir != NULL ? opt.plugin_dir : "/usr/lib/purple-2");

	debug_write("harness: ", "server %s room '%s' home %s", opt.server, opt.room, home);
	if (!purple_core_init(UI_ID)) {
		printf("FAIL: libpurple initialised because purple_core_init() failed\n");
		remove_tree(home);
		return 2;
	}
	purple_set_blist(purple_blist_new());
	purple_blist_load();
	purple_prefs_load();
	ui_prefs_init(); /* again, in case a loaded prefs file changed them */

	if (purple_find_prpl(SIPE_PLUGIN_ID) == NULL) {
		printf("FAIL: SIPE plugin loaded because libpurple has no %s "
		       "(install pidgin-sipe or pass --plugin-dir)\n", SIPE_PLUGIN_ID);
		purple_core_quit();
		remove_tree(home);
		return 2;
	}
	connect_signals();

	rc = run_scenario();
	printf("%s: %d steps passed in %.2f s; purple debug log: %s\n",
	       rc == 0 ? "PASS" : "FAILED", steps_ok, elapsed_s(run_started_us), log_path);
	fflush(stdout);

	purple_core_quit();
	remove_tree(home);
	g_free(home);
	g_free(log_path);
	fclose(debug_log);
	debug_log = NULL;
	return rc;
}
