/*
 * Work-around for SIPE group chat on Debian bookworm's libxml2
 * (2.9.14+dfsg-1.3~deb12u6).
 *
 * SIPE parses every XML body with xmlSAXUserParseMemory() and a handler that
 * is marked as SAX2 (initialized == XML_SAX2_MAGIC) but fills in only the SAX1
 * startElement/endElement callbacks. With that libxml2 build those callbacks
 * are never called, so SIPE silently sees empty documents and group chat never
 * comes up. We interpose xmlSAXUserParseMemory() and hand such handlers on as
 * plain SAX1 handlers; every other call is passed through unchanged.
 *
 * The same file is built as an LD_PRELOAD library for Pidgin users and is
 * compiled into the headless test harness (which exports the symbol so the
 * dlopen()ed SIPE plugin binds to it).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_NEXT */
#endif

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

#include <libxml/parser.h>

typedef int (*sax_user_parse_memory_fn)(xmlSAXHandlerPtr, void *, const char *, int);

/* Looked up lazily: the real libxml2 may not be loaded yet when we are
 * (LD_PRELOAD), and the plugin that calls us may parse from any thread. */
static sax_user_parse_memory_fn real_parse_memory(void)
{
	static sax_user_parse_memory_fn cached;
	sax_user_parse_memory_fn fn = __atomic_load_n(&cached, __ATOMIC_ACQUIRE);

	if (fn == NULL) {
		fn = (sax_user_parse_memory_fn)dlsym(RTLD_NEXT, "xmlSAXUserParseMemory");
		/* Never call ourselves: that would recurse forever. */
		if (fn == xmlSAXUserParseMemory)
			fn = NULL;
		if (fn != NULL)
			__atomic_store_n(&cached, fn, __ATOMIC_RELEASE);
	}
	return fn;
}

/* True for handlers that claim SAX2 but only provide SAX1 element callbacks,
 * i.e. exactly what SIPE passes in. */
static int needs_sax1(const xmlSAXHandler *sax)
{
	return sax != NULL &&
	       sax->initialized == XML_SAX2_MAGIC &&
	       sax->startElementNs == NULL &&
	       sax->startElement != NULL;
}

int xmlSAXUserParseMemory(xmlSAXHandlerPtr sax, void *user_data,
			  const char *buffer, int size)
{
	sax_user_parse_memory_fn real = real_parse_memory();

	if (real == NULL) {
		/* Report loudly: a silent -1 would look like the very bug we fix. */
		const char *why = dlerror();

		fprintf(stderr, "pchat-sipe-xmlfix: real xmlSAXUserParseMemory not found: %s\n",
			why != NULL ? why : "libxml2 not loaded");
		return -1;
	}

	if (needs_sax1(sax)) {
		/* A copy, because the caller's handler may be a shared static and
		 * other threads may use it unchanged. Any value other than the SAX2
		 * magic makes libxml2 use the SAX1 callbacks. */
		xmlSAXHandler sax1;

		memcpy(&sax1, sax, sizeof(sax1));
		sax1.initialized = 1;
		return real(&sax1, user_data, buffer, size);
	}
	return real(sax, user_data, buffer, size);
}
