/*
 * Bans in nftables through libnftnl/libmnl netlink batches.
 *
 * Every change goes to the kernel as one nfnetlink batch (or several, when a
 * bulk change does not fit one buffer) and every message asks for an ack,
 * so a failure is reported with the set and the element that caused it.
 *
 * Refreshing a ban's timeout must work on every kernel, and only kernels from
 * 6.10 on update the timeout of an element that is added again; nft_open
 * finds out which kind it talks to. On older kernels a ban is written as
 * three messages in one batch: add the element if it is missing, delete it,
 * add it with its timeout. The first add makes the delete succeed whether
 * the element was there or not (it may also have expired a moment ago); the
 * batch commits all three or none. A removal is always the first two.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>

#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>
#include <libnftnl/chain.h>
#include <libnftnl/expr.h>
#include <libnftnl/gen.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "log.h"
#include "nft.h"
#include "nft_tag.h"

/* The kernel's limit on table names (NFT_NAME_MAXLEN), with the NUL. */
#define TABLE_NAME_MAX 256
/* Always-allowed prefixes: a few DNS resolvers and portals, not a routing table. */
#define ALWAYS_ALLOWED_MAX 1024
/* Most ban elements one call handles (listing, bulk install, reconcile). */
#define ELEMENTS_MAX (4u * 1024 * 1024)
/*
 * One batch buffer. The socket's send buffer is made as large, since the
 * kernel takes a batch in one sendmsg.
 */
#define BATCH_BUFFER_SIZE (4u * 1024 * 1024)
/* Messages per batch; every one gets an ack, which the receive buffer holds. */
#define BATCH_MESSAGES_MAX  1024
#define RECEIVE_BUFFER_SIZE (8u * 1024 * 1024)
/*
 * The element list of a set-element message is one netlink attribute, whose
 * length is 16 bits: a message carries at most that much of elements.
 */
#define ELEMENT_LIST_MAX (UINT16_MAX - NLA_HDRLEN)
/* The largest message we build: an element list plus table and set names. */
#define MESSAGE_SIZE_MAX (ELEMENT_LIST_MAX + 2 * TABLE_NAME_MAX + 256)
/* Kernel and wanted timers closer than this are left alone by reconcile. */
#define RECONCILE_SLACK_MS 1000
#define PROBE_TIMEOUT_MS   (3600 * 1000)
/* Types of nft's datatypes (nftables' enum datatypes), so `nft list` prints addresses. */
#define NFT_TYPE_IPADDR  7
#define NFT_TYPE_IP6ADDR 8
#define NFT_TYPE_IFINDEX 20
/* nftables' BYTEORDER_HOST_ENDIAN, in a set's userdata. */
#define NFT_BYTEORDER_HOST 1
/* A concatenation's type: each field's type in 6 bits, the first one highest. */
#define NFT_TYPE_CONCAT(a, b) (((a) << 6) | (b))
/* The longest key: an interface index and an IPv6 address. */
#define KEY_MAX 20

enum set_id {
	SET_BAN4_SMTP,
	SET_BAN6_SMTP,
	SET_BAN4_WEB,
	SET_BAN6_WEB,
	SET_BAN4_ALL,
	SET_BAN6_ALL,
	SET_ALLOW4,
	SET_ALLOW6,
	SET_VM_INTERFACES,  /* every VM interface: another one's address is forged there */
	SET_VM4_INTERFACES, /* those whose every IPv4 source is checked (its IPv4 is known) */
	SET_VM6_INTERFACES,
	SET_VM4_SOURCES, /* interface . IPv4 range: the sources each of them may use */
	SET_VM6_SOURCES,
	SET_VM4_HELD, /* the IPv4 ranges some VM interface holds */
	SET_VM6_HELD,
	SET_COUNT,
	SET_BAN_COUNT = SET_ALLOW4,
	SET_PROBE = SET_COUNT, /* made and dropped by nft_open, see probe_timeout_update */
	SET_NONE = 0xff
};

struct set_info {
	const char *name;
	bool ipv6;
	uint32_t flags;
	uint32_t key_type;
	uint8_t key_length;
	/*
	 * An interface index first, as meta iif . ip saddr puts it (big
	 * endian, since a range compares bytes), then the address: each
	 * element carries the range's last key too (NFTA_SET_ELEM_KEY_END).
	 */
	bool concat;
};

#define SET_ADDRESSES(name, ipv6, flags)                                                           \
	{                                                                                          \
		name, ipv6, flags, (ipv6) ? NFT_TYPE_IP6ADDR : NFT_TYPE_IPADDR, (ipv6) ? 16 : 4,   \
		    false                                                                          \
	}
#define SET_INTERFACES(name, ipv6)                                                                 \
	{                                                                                          \
		name, ipv6, 0, NFT_TYPE_IFINDEX, 4, false                                          \
	}
#define SET_INTERFACE_SOURCES(name, ipv6)                                                          \
	{                                                                                          \
		name, ipv6, NFT_SET_INTERVAL | NFT_SET_CONCAT,                                     \
		    NFT_TYPE_CONCAT(NFT_TYPE_IFINDEX,                                              \
		                    (ipv6) ? NFT_TYPE_IP6ADDR : NFT_TYPE_IPADDR),                  \
		    (ipv6) ? 20 : 8, true                                                          \
	}

static const struct set_info sets[SET_COUNT + 1] = {
    [SET_BAN4_SMTP] = SET_ADDRESSES("ban4_smtp", false, NFT_SET_TIMEOUT),
    [SET_BAN6_SMTP] = SET_ADDRESSES("ban6_smtp", true, NFT_SET_TIMEOUT),
    [SET_BAN4_WEB] = SET_ADDRESSES("ban4_web", false, NFT_SET_TIMEOUT),
    [SET_BAN6_WEB] = SET_ADDRESSES("ban6_web", true, NFT_SET_TIMEOUT),
    [SET_BAN4_ALL] = SET_ADDRESSES("ban4_all", false, NFT_SET_TIMEOUT),
    [SET_BAN6_ALL] = SET_ADDRESSES("ban6_all", true, NFT_SET_TIMEOUT),
    [SET_ALLOW4] = SET_ADDRESSES("allow4", false, NFT_SET_INTERVAL),
    [SET_ALLOW6] = SET_ADDRESSES("allow6", true, NFT_SET_INTERVAL),
    [SET_VM_INTERFACES] = SET_INTERFACES("vm_interfaces", false),
    [SET_VM4_INTERFACES] = SET_INTERFACES("vm4_interfaces", false),
    [SET_VM6_INTERFACES] = SET_INTERFACES("vm6_interfaces", true),
    [SET_VM4_SOURCES] = SET_INTERFACE_SOURCES("vm4_sources", false),
    [SET_VM6_SOURCES] = SET_INTERFACE_SOURCES("vm6_sources", true),
    [SET_VM4_HELD] = SET_ADDRESSES("vm4_held", false, NFT_SET_INTERVAL),
    [SET_VM6_HELD] = SET_ADDRESSES("vm6_held", true, NFT_SET_INTERVAL),
    [SET_PROBE] = SET_ADDRESSES("timeout_update_probe", false, NFT_SET_TIMEOUT),
};

/*
 * The bans' chains, and the anti-spoofing one: on prerouting, before
 * connection tracking (priority raw), so a forged packet makes no
 * conntrack entry and is dropped whether it was bound for the host or on.
 */
enum chain_id { CHAIN_FORWARD, CHAIN_OUTPUT, CHAIN_SPOOFING, CHAIN_COUNT };
static const char *const chain_names[CHAIN_COUNT] = {"forward", "output", "spoofing"};
static const unsigned chain_hooks[CHAIN_COUNT] = {NF_INET_FORWARD, NF_INET_LOCAL_OUT,
                                                  NF_INET_PRE_ROUTING};
static const int chain_priorities[CHAIN_COUNT] = {0, 0, -300};
#define CHAIN_TYPE "filter"

/* What one rule matches besides the banned source; a scope has one or more. */
struct scope_match {
	enum scope scope;
	uint8_t l4proto;  /* 0: any protocol */
	uint16_t port;    /* destination port, with l4proto */
	bool syn_only;    /* only new TCP connections: SYN set, ACK clear */
	bool allow_check; /* spare the always-allowed destinations */
};

static const struct scope_match scope_matches[] = {
    {SCOPE_SMTP, IPPROTO_TCP, 25, true, false},
    {SCOPE_SMTP, IPPROTO_TCP, 465, true, false},
    {SCOPE_SMTP, IPPROTO_TCP, 587, true, false},
    {SCOPE_WEB, IPPROTO_TCP, 80, false, false},
    {SCOPE_WEB, IPPROTO_TCP, 443, false, false},
    {SCOPE_WEB, IPPROTO_UDP, 443, false, false},
    {SCOPE_ALL, 0, 0, false, true},
};

/*
 * A set element as the kernel sees it; timeout_ms 0 means none. Timeouts of
 * elements being written and of elements dumped by a reconcile count from
 * nft->since_ms, not from when the kernel takes or lists them (see since_now).
 */
struct element {
	int64_t timeout_ms;
	uint8_t set;
	uint8_t interval_end;
	uint8_t key[KEY_MAX];
	uint8_t key_end[KEY_MAX]; /* a concatenation's last key, see set_info */
	struct nft_ban_tag tag;   /* the comment, when the daemon wrote one */
};

enum element_op {
	ELEMENT_ADD,    /* add; one that is there keeps its timeout */
	ELEMENT_PUT,    /* add or replace, with the new timeout */
	ELEMENT_DELETE, /* delete; one that is not there is fine */
};

/* What a message of the batch did, to name it when the kernel refuses it. */
struct batch_note {
	uint16_t type;
	uint8_t set; /* SET_NONE when the message is not about a set */
	const struct element *elements;
	size_t element_count;
	uint32_t elements_offset; /* where the first element starts in the message */
	uint32_t element_size;
};

struct nft {
	struct mnl_socket *socket;
	uint32_t portid;
	uint32_t seq;
	char table[TABLE_NAME_MAX];
	unsigned ipv6_prefix_len;
	uint32_t max_bans_per_set;
	/* The kernel updates the timeout of an element added again. */
	bool refresh_by_add;
	/*
	 * The ruleset's generation id after the last nft_generation_changed,
	 * moved on by each commit of ours that was the only one since; changed
	 * when not (or nothing is known yet).
	 */
	uint32_t generation;
	bool generation_changed;
	/* TCP ports the web scope drops beside 80 and 443: where the crawler reads HTTP. */
	uint16_t web_ports[NFT_WEB_PORTS_MAX];
	size_t web_port_count;
	/* The batch being built. */
	char *batch;
	size_t batch_length;
	uint32_t batch_seq;
	struct batch_note notes[BATCH_MESSAGES_MAX];
	size_t note_count;
	char *receive;
	/* Reused for every element written. */
	struct nftnl_set_elem *scratch_element;
	/*
	 * CLOCK_MONOTONIC ms at which the timeouts of the operation under way
	 * were true. Tens of thousands of bans take seconds to dump and write:
	 * without this, each element would be written late by the time spent
	 * before it, and the next check would find those timeouts wrong.
	 */
	int64_t since_ms;
	/* The always-allowed sets' elements as written, sorted: checked and rewritten. */
	struct element *allowed;
	size_t allowed_count;
	/* The VM sets' elements as nft_set_vm_sources wants them, sorted. */
	struct element *vm_elements;
	size_t vm_element_count;
	/*
	 * Each base chain's rules as the kernel listed them right after the
	 * daemon wrote them (rule_fingerprint), to tell when another program
	 * changed them.
	 */
	char *rules_written[CHAIN_COUNT];
};

/* The first error of a batch or a dump, as the kernel reported it. */
struct kernel_error {
	int error;
	uint32_t seq;
	uint32_t offset; /* of the bad attribute in the message; 0 if not given */
	char message[128];
	unsigned acks;
};

static int64_t
monotonic_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

/* How long ago the timeouts of the operation under way were true. */
static int64_t
since_now(const struct nft *nft)
{
	return nft->since_ms > 0 ? monotonic_ms() - nft->since_ms : 0;
}

static uint8_t
ban_set(enum scope scope, int family)
{
	return (uint8_t)(scope * 2 + (family == SOURCE_FAMILY_IPV6));
}

static size_t
set_key_length(uint8_t set)
{
	return sets[set].key_length;
}

static void
mask_address(uint8_t *addr, size_t size, unsigned prefix_len)
{
	for (unsigned bit = prefix_len; bit < size * 8; bit++)
		addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
}

static const char *
element_format(const struct element *element, char *buf, size_t len)
{
	char addr[INET6_ADDRSTRLEN], last[INET6_ADDRSTRLEN];
	int family = sets[element->set].ipv6 ? AF_INET6 : AF_INET;
	uint32_t ifindex;

	memcpy(&ifindex, element->key, sizeof(ifindex));
	if (sets[element->set].key_type == NFT_TYPE_IFINDEX) {
		snprintf(buf, len, "interface %u", ifindex);
	} else if (sets[element->set].concat) {
		inet_ntop(family, element->key + 4, addr, sizeof(addr));
		inet_ntop(family, element->key_end + 4, last, sizeof(last));
		snprintf(buf, len, "interface %u . %s-%s", ntohl(ifindex), addr, last);
	} else {
		inet_ntop(family, element->key, addr, sizeof(addr));
		snprintf(buf, len, "%s%s", addr, element->interval_end ? " (interval end)" : "");
	}
	return buf;
}

static int
element_compare(const void *a, const void *b)
{
	const struct element *x = a, *y = b;

	int r;

	if (x->set != y->set)
		return x->set < y->set ? -1 : 1;
	if ((r = memcmp(x->key, y->key, sizeof(x->key))) != 0)
		return r;
	return memcmp(x->key_end, y->key_end, sizeof(x->key_end));
}

/*
 * Sorts by set and key, and keeps one element per key, the one with the
 * longest timeout: a duplicate never shortens a ban.
 */
static size_t
elements_sort_unique(struct element *elements, size_t count)
{
	size_t kept = 0;

	if (count == 0)
		return 0; /* elements may be NULL */
	qsort(elements, count, sizeof(*elements), element_compare);
	for (size_t i = 0; i < count; i++) {
		if (kept > 0 && element_compare(&elements[kept - 1], &elements[i]) == 0) {
			if (elements[i].timeout_ms > elements[kept - 1].timeout_ms) {
				elements[kept - 1].timeout_ms = elements[i].timeout_ms;
				elements[kept - 1].tag = elements[i].tag;
			}
			continue;
		}
		elements[kept++] = elements[i];
	}
	return kept;
}

static int
ban_to_element(const struct nft *nft, const struct source_key *source, enum scope scope,
               int64_t timeout_ms, struct element *out)
{
	char text[SOURCE_STRLEN];

	if ((unsigned)scope >= SCOPE_COUNT) {
		log_warnx("%s: ban of %s: bad scope %d", nft->table,
		          source_format(source, text, sizeof(text)), scope);
		return -EINVAL;
	}
	if (source->family != SOURCE_FAMILY_IPV4 && source->family != SOURCE_FAMILY_IPV6) {
		log_warnx("%s: ban: bad source family %u", nft->table, source->family);
		return -EINVAL;
	}
	/* The rules mask sources to the configured length: any other would never match. */
	if (source->family == SOURCE_FAMILY_IPV6 && source->prefix_len != nft->ipv6_prefix_len) {
		log_warnx("%s: ban of %s: prefix length is not /%u", nft->table,
		          source_format(source, text, sizeof(text)), nft->ipv6_prefix_len);
		return -EINVAL;
	}
	memset(out, 0, sizeof(*out));
	out->set = ban_set(scope, source->family);
	out->timeout_ms = timeout_ms;
	memcpy(out->key, source->addr, set_key_length(out->set));
	if (source->family == SOURCE_FAMILY_IPV6)
		mask_address(out->key, 16, nft->ipv6_prefix_len);
	return 0;
}

static void
element_to_ban(const struct nft *nft, const struct element *element, struct nft_ban *out)
{
	bool ipv6 = sets[element->set].ipv6;

	memset(out, 0, sizeof(*out));
	source_from_addr(ipv6 ? SOURCE_FAMILY_IPV6 : SOURCE_FAMILY_IPV4, element->key,
	                 nft->ipv6_prefix_len, &out->source);
	out->scope = (enum scope)(element->set / 2);
	out->remaining_ms = element->timeout_ms;
	out->tag = element->tag;
}

/* Batches: begin, messages with notes, commit. */

static void
batch_begin(struct nft *nft)
{
	nft->batch_length = 0;
	nft->note_count = 0;
	nft->batch_seq = nft->seq++;
	nftnl_batch_begin(nft->batch, nft->batch_seq);
	nft->batch_length = ((struct nlmsghdr *)nft->batch)->nlmsg_len;
}

static struct nlmsghdr *
batch_message(struct nft *nft, uint16_t type, uint16_t flags, uint8_t set)
{
	struct batch_note *note = &nft->notes[nft->note_count++];
	struct nlmsghdr *nlh;

	nlh = nftnl_nlmsg_build_hdr(nft->batch + nft->batch_length, type, NFPROTO_INET,
	                            flags | NLM_F_ACK, nft->seq++);
	memset(note, 0, sizeof(*note));
	note->type = type;
	note->set = set;
	return nlh;
}

static void
batch_message_end(struct nft *nft, struct nlmsghdr *nlh)
{
	nft->batch_length += NLMSG_ALIGN(nlh->nlmsg_len);
}

static const char *
message_action(uint16_t type)
{
	switch (type) {
	case NFT_MSG_NEWTABLE:
		return "create table";
	case NFT_MSG_DELTABLE:
		return "delete table";
	case NFT_MSG_NEWSET:
		return "create set";
	case NFT_MSG_DELSET:
		return "delete set";
	case NFT_MSG_NEWSETELEM:
		return "add element to set";
	case NFT_MSG_DELSETELEM:
		return "delete element from set";
	case NFT_MSG_NEWCHAIN:
		return "create chain";
	case NFT_MSG_DELCHAIN:
		return "delete chain";
	case NFT_MSG_NEWRULE:
		return "add rule";
	case NFT_MSG_DELRULE:
		return "flush chain";
	default:
		return "message";
	}
}

static void
batch_report(const struct nft *nft, const struct kernel_error *error)
{
	const struct batch_note *note = NULL;
	char what[192] = "", element[128];
	uint32_t index = error->seq - nft->batch_seq - 1;

	if (error->seq != nft->batch_seq && index < nft->note_count)
		note = &nft->notes[index];
	if (note != NULL && note->set != SET_NONE) {
		snprintf(what, sizeof(what), " %s", sets[note->set].name);
		if (note->element_count > 0) {
			size_t i = 0;

			if (error->offset >= note->elements_offset && note->element_size > 0)
				i = (error->offset - note->elements_offset) / note->element_size;
			if (i >= note->element_count)
				i = 0;
			snprintf(what, sizeof(what), " %s, element %s", sets[note->set].name,
			         element_format(&note->elements[i], element, sizeof(element)));
		}
	}
	log_warnx("inet %s: %s%s: %s%s%s", nft->table,
	          note != NULL ? message_action(note->type) : "commit", what,
	          error->error == -ENFILE ? "the set is full" : strerror(-error->error),
	          error->message[0] ? ": " : "", error->message);
}

static int
extended_ack_attribute(const struct nlattr *attr, void *data)
{
	struct kernel_error *error = data;

	switch (mnl_attr_get_type(attr)) {
	case NLMSGERR_ATTR_MSG:
		if (mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
			snprintf(error->message, sizeof(error->message), "%s",
			         mnl_attr_get_str(attr));
		break;
	case NLMSGERR_ATTR_OFFS:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
			error->offset = mnl_attr_get_u32(attr);
		break;
	}
	return MNL_CB_OK;
}

/* Counts acks and keeps the first error, with the kernel's explanation. */
static int
ack_callback(const struct nlmsghdr *nlh, void *data)
{
	struct kernel_error *error = data;
	const struct nlmsgerr *ack = mnl_nlmsg_get_payload(nlh);
	unsigned offset = sizeof(*ack);

	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*ack)))
		return MNL_CB_ERROR;
	error->acks++;
	if (ack->error == 0 || error->error != 0)
		return MNL_CB_OK;
	error->error = ack->error;
	error->seq = ack->msg.nlmsg_seq;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		offset += ack->msg.nlmsg_len - sizeof(struct nlmsghdr);
	if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) && mnl_nlmsg_size(offset) < nlh->nlmsg_len)
		mnl_attr_parse(nlh, offset, extended_ack_attribute, error);
	return MNL_CB_OK;
}

/*
 * Sends the batch and reads every ack. The kernel handles a batch inside
 * sendmsg, so all acks are queued when it returns; reading stops when none
 * is left, never waiting.
 */
static int generation_read(struct nft *nft, uint32_t *out);

/*
 * Each commit moves the generation on by one: ours alone since the last
 * look leaves it at one more than then. Anything else is another program's.
 */
static void
generation_after_commit(struct nft *nft, bool committed)
{
	uint32_t now;

	if (nft->generation_changed)
		return;
	if (!committed || generation_read(nft, &now) < 0 || now != nft->generation + 1)
		nft->generation_changed = true;
	else
		nft->generation = now;
}

static int
batch_commit(struct nft *nft)
{
	static mnl_cb_t ack_callbacks[NLMSG_MIN_TYPE] = {[NLMSG_ERROR] = ack_callback};
	struct kernel_error error = {0};
	struct nlmsghdr *end;
	ssize_t length;

	if (nft->note_count == 0)
		return 0;
	end = nftnl_batch_end(nft->batch + nft->batch_length, nft->seq++);
	nft->batch_length += end->nlmsg_len;
	if (mnl_socket_sendto(nft->socket, nft->batch, nft->batch_length) < 0) {
		int saved_errno = errno;

		log_warn("inet %s: send batch of %zu messages", nft->table, nft->note_count);
		nft->note_count = 0;
		return -saved_errno;
	}
	for (;;) {
		length = recv(mnl_socket_get_fd(nft->socket), nft->receive, RECEIVE_BUFFER_SIZE,
		              MSG_DONTWAIT);
		if (length < 0 && errno == EINTR)
			continue;
		if (length <= 0)
			break;
		if (mnl_cb_run2(nft->receive, (size_t)length, 0, nft->portid, NULL, &error,
		                ack_callbacks, NLMSG_MIN_TYPE) < 0 &&
		    error.error == 0) {
			error.error = errno ? -errno : -EPROTO;
			error.seq = nft->batch_seq;
		}
	}
	if (length < 0 && errno != EAGAIN && error.error == 0) {
		/* ENOBUFS: acks were dropped, so the outcome is unknown. */
		error.error = -errno;
		error.seq = nft->batch_seq;
	}
	if (error.error == 0 && error.acks != nft->note_count) {
		error.error = -EPROTO;
		error.seq = nft->batch_seq;
		snprintf(error.message, sizeof(error.message), "%u acks for %zu messages",
		         error.acks, nft->note_count);
	}
	if (error.error != 0)
		batch_report(nft, &error);
	nft->note_count = 0;
	generation_after_commit(nft, error.error == 0);
	return error.error;
}

/* Makes room for messages in the batch, sending what it holds if needed. */
static int
batch_reserve(struct nft *nft, size_t messages)
{
	int r;

	if (nft->note_count + messages <= BATCH_MESSAGES_MAX &&
	    nft->batch_length + (messages + 1) * MESSAGE_SIZE_MAX <= BATCH_BUFFER_SIZE)
		return 0;
	if ((r = batch_commit(nft)) < 0)
		return r;
	batch_begin(nft);
	return 0;
}

/* Set elements. */

/* Bytes one element takes in the element list: see nftnl_set_elem_nlmsg_build. */
static size_t
element_size(uint8_t set, bool with_timeout, bool with_flags)
{
	size_t size = NLA_HDRLEN                                     /* NFTA_LIST_ELEM */
	              + NLA_HDRLEN                                   /* NFTA_SET_ELEM_KEY */
	              + NLA_HDRLEN + NLA_ALIGN(set_key_length(set)); /* NFTA_DATA_VALUE */

	if (sets[set].concat) /* NFTA_SET_ELEM_KEY_END */
		size += NLA_HDRLEN + NLA_HDRLEN + NLA_ALIGN(set_key_length(set));
	if (with_timeout)
		size += NLA_HDRLEN + sizeof(uint64_t);
	if (with_flags)
		size += NLA_HDRLEN + sizeof(uint32_t);
	return size;
}

/* At most what one element of the list takes: tagged ones carry their comment. */
static size_t
element_bytes_max(const struct element *element)
{
	return element_size(element->set, true, true) +
	       (element->tag.present ? NLA_HDRLEN + NLA_ALIGN(NFT_TAG_BYTES_MAX) : 0);
}

/* One message with count elements of one set; the caller made sure they fit. */
static int
batch_elements(struct nft *nft, uint16_t type, uint16_t flags, const struct element *elements,
               size_t count, bool with_timeout)
{
	struct nftnl_set_elem *scratch = nft->scratch_element;
	uint8_t set = elements[0].set;
	struct nftnl_set *header;
	struct nlmsghdr *nlh;
	struct nlattr *list;
	struct batch_note *note;
	uint8_t udata[NFT_TAG_BYTES_MAX];
	uint32_t udata_length;
	int64_t late_ms;

	if ((header = nftnl_set_alloc()) == NULL)
		fatal("nftnl_set_alloc");
	nftnl_set_set_str(header, NFTNL_SET_TABLE, nft->table);
	nftnl_set_set_str(header, NFTNL_SET_NAME, sets[set].name);
	nlh = batch_message(nft, type, flags, set);
	/* Without elements of its own the set contributes only its names. */
	nftnl_set_elems_nlmsg_build_payload(nlh, header);
	nftnl_set_free(header);

	/* The time spent since the timeouts were true is already gone. */
	late_ms = since_now(nft);
	note = &nft->notes[nft->note_count - 1];
	note->elements = elements;
	note->element_count = count;
	list = mnl_attr_nest_start(nlh, NFTA_SET_ELEM_LIST_ELEMENTS);
	note->elements_offset = (uint32_t)((char *)mnl_nlmsg_get_payload_tail(nlh) - (char *)nlh);
	for (size_t i = 0; i < count; i++) {
		nftnl_set_elem_set(scratch, NFTNL_SET_ELEM_KEY, elements[i].key,
		                   (uint32_t)set_key_length(set));
		if (sets[set].concat)
			nftnl_set_elem_set(scratch, NFTNL_SET_ELEM_KEY_END, elements[i].key_end,
			                   (uint32_t)set_key_length(set));
		else
			nftnl_set_elem_unset(scratch, NFTNL_SET_ELEM_KEY_END);
		if (with_timeout && elements[i].timeout_ms > 0)
			nftnl_set_elem_set_u64(scratch, NFTNL_SET_ELEM_TIMEOUT,
			                       (uint64_t)(elements[i].timeout_ms > late_ms + 1
			                                      ? elements[i].timeout_ms - late_ms
			                                      : 1));
		else
			nftnl_set_elem_unset(scratch, NFTNL_SET_ELEM_TIMEOUT);
		/* The tag goes with the timeout: on the element that stays. */
		if (with_timeout && (udata_length = nft_tag_encode(&elements[i].tag, udata)) > 0)
			nftnl_set_elem_set(scratch, NFTNL_SET_ELEM_USERDATA, udata, udata_length);
		else
			nftnl_set_elem_unset(scratch, NFTNL_SET_ELEM_USERDATA);
		if (elements[i].interval_end)
			nftnl_set_elem_set_u32(scratch, NFTNL_SET_ELEM_FLAGS,
			                       NFT_SET_ELEM_INTERVAL_END);
		else
			nftnl_set_elem_unset(scratch, NFTNL_SET_ELEM_FLAGS);
		nftnl_set_elem_nlmsg_build(nlh, scratch, (int)i + 1);
		if (i == 0)
			note->element_size = (uint32_t)((char *)mnl_nlmsg_get_payload_tail(nlh) -
			                                (char *)nlh - note->elements_offset);
	}
	if ((char *)mnl_nlmsg_get_payload_tail(nlh) - (char *)list > UINT16_MAX) {
		log_warnx("inet %s: %s: %zu elements overflow one message", nft->table,
		          sets[set].name, count);
		return -EMSGSIZE;
	}
	mnl_attr_nest_end(nlh, list);
	batch_message_end(nft, nlh);
	return 0;
}

/*
 * Appends elements, grouped by set, to the batch: as many per message as
 * fit, and more batches when one is full (a put's three messages always go
 * in the same batch).
 */
static int
batch_element_op(struct nft *nft, const struct element *elements, size_t count, enum element_op op)
{
	size_t chunk;
	int r;

	for (size_t i = 0; i < count; i += chunk) {
		uint8_t set = elements[i].set;
		bool tagged = elements[i].tag.present;
		size_t bytes = element_bytes_max(&elements[i]);

		/* One set and one element size per message. */
		for (chunk = 1; i + chunk < count; chunk++) {
			const struct element *next = &elements[i + chunk];

			if (next->set != set || next->tag.present != tagged ||
			    bytes + element_bytes_max(next) > ELEMENT_LIST_MAX)
				break;
			bytes += element_bytes_max(next);
		}
		if ((r = batch_reserve(nft, op == ELEMENT_ADD ? 1 : 3)) < 0)
			return r;
		/* Adding again refreshes the timeout but keeps the old comment. */
		if (op == ELEMENT_ADD || (op == ELEMENT_PUT && nft->refresh_by_add && !tagged)) {
			r = batch_elements(nft, NFT_MSG_NEWSETELEM, NLM_F_CREATE, &elements[i],
			                   chunk, true);
			if (r < 0)
				return r;
			continue;
		}
		if ((r = batch_elements(nft, NFT_MSG_NEWSETELEM, NLM_F_CREATE, &elements[i], chunk,
		                        false)) < 0 ||
		    (r = batch_elements(nft, NFT_MSG_DELSETELEM, 0, &elements[i], chunk, false)) <
		        0)
			return r;
		if (op == ELEMENT_PUT && (r = batch_elements(nft, NFT_MSG_NEWSETELEM, NLM_F_CREATE,
		                                             &elements[i], chunk, true)) < 0)
			return r;
	}
	return 0;
}

/* A batch of element operations, committed. */
static int
elements_apply(struct nft *nft, const struct element *elements, size_t count, enum element_op op)
{
	int r;

	batch_begin(nft);
	if ((r = batch_element_op(nft, elements, count, op)) < 0) {
		nft->note_count = 0;
		return r;
	}
	return batch_commit(nft);
}

/* Dumps. */

/* How many more dumps ban_sets_dump takes to get two that agree. */
#define DUMP_PASSES_MAX 8

struct element_list {
	struct element *elements;
	size_t count;
	size_t capacity;
	uint8_t set;
	int64_t since_ms; /* nft->since_ms: the kernel's remaining times are made relative to it */
	int64_t late_ms;  /* for the message being read */
	int error;
};

static int
element_list_append(struct nftnl_set_elem *set_element, void *data)
{
	struct element_list *list = data;
	struct element *element;
	const void *key;
	uint32_t key_length;

	if (list->count == list->capacity) {
		size_t capacity = list->capacity ? list->capacity * 2 : 1024;
		struct element *grown;

		if (list->capacity >= ELEMENTS_MAX) {
			list->error = -E2BIG;
			return -1;
		}
		if (capacity > ELEMENTS_MAX)
			capacity = ELEMENTS_MAX;
		grown = reallocarray(list->elements, capacity, sizeof(*grown));
		if (grown == NULL) {
			list->error = -ENOMEM;
			return -1;
		}
		list->elements = grown;
		list->capacity = capacity;
	}
	key = nftnl_set_elem_get(set_element, NFTNL_SET_ELEM_KEY, &key_length);
	if (key == NULL || key_length != set_key_length(list->set)) {
		list->error = -EPROTO;
		return -1;
	}
	element = &list->elements[list->count++];
	memset(element, 0, sizeof(*element));
	element->set = list->set;
	memcpy(element->key, key, key_length);
	if (sets[list->set].concat) {
		key = nftnl_set_elem_get(set_element, NFTNL_SET_ELEM_KEY_END, &key_length);
		if (key == NULL || key_length != set_key_length(list->set)) {
			list->error = -EPROTO;
			return -1;
		}
		memcpy(element->key_end, key, key_length);
	}
	/* An element without a timeout never expires. */
	element->timeout_ms = INT64_MAX;
	if (nftnl_set_elem_is_set(set_element, NFTNL_SET_ELEM_EXPIRATION))
		element->timeout_ms =
		    (int64_t)nftnl_set_elem_get_u64(set_element, NFTNL_SET_ELEM_EXPIRATION) +
		    list->late_ms;
	if (nftnl_set_elem_is_set(set_element, NFTNL_SET_ELEM_USERDATA)) {
		uint32_t length;
		const void *udata =
		    nftnl_set_elem_get(set_element, NFTNL_SET_ELEM_USERDATA, &length);

		nft_tag_decode(udata, length, &element->tag);
	}
	if (nftnl_set_elem_is_set(set_element, NFTNL_SET_ELEM_FLAGS))
		element->interval_end = (nftnl_set_elem_get_u32(set_element, NFTNL_SET_ELEM_FLAGS) &
		                         NFT_SET_ELEM_INTERVAL_END) != 0;
	return 0;
}

static int
dump_callback(const struct nlmsghdr *nlh, void *data)
{
	struct element_list *list = data;
	struct nftnl_set *set;
	int r = MNL_CB_OK;

	if ((set = nftnl_set_alloc()) == NULL) {
		list->error = -ENOMEM;
		return MNL_CB_ERROR;
	}
	/* The kernel fills each message of a dump as it is read: its times are of now. */
	list->late_ms = list->since_ms > 0 ? monotonic_ms() - list->since_ms : 0;
	if (nftnl_set_elems_nlmsg_parse(nlh, set) < 0) {
		list->error = -EPROTO;
		r = MNL_CB_ERROR;
	} else if (nftnl_set_elem_foreach(set, element_list_append, list) < 0) {
		r = MNL_CB_ERROR;
	}
	nftnl_set_free(set);
	return r;
}

/*
 * Sends one request, a dump or a get that asks for an ack, and runs cb (may be
 * NULL) on every reply until the kernel is done. Returns 0 or -errno: the
 * kernel's answer, or *cb_error when the callback failed. A missing object
 * (-ENOENT) is left to the caller; other failures are logged with what.
 */
static int
request_run(struct nft *nft, struct nlmsghdr *nlh, mnl_cb_t cb, void *data, const int *cb_error,
            const char *what)
{
	uint32_t seq = nlh->nlmsg_seq;
	ssize_t length;
	int r;

	if (mnl_socket_sendto(nft->socket, nlh, nlh->nlmsg_len) < 0) {
		r = -errno;
		log_warn("inet %s: %s", nft->table, what);
		return r;
	}
	do {
		length = mnl_socket_recvfrom(nft->socket, nft->receive, RECEIVE_BUFFER_SIZE);
		if (length < 0) {
			r = -errno;
			log_warn("inet %s: %s", nft->table, what);
			return r;
		}
		r = mnl_cb_run(nft->receive, (size_t)length, seq, nft->portid, cb, data);
	} while (r > MNL_CB_STOP);
	if (r == MNL_CB_STOP || r == MNL_CB_OK)
		return 0;
	r = cb_error != NULL && *cb_error != 0 ? *cb_error : errno ? -errno : -EPROTO;
	/* Read the rest of a dump so the next request starts clean. */
	while (recv(mnl_socket_get_fd(nft->socket), nft->receive, RECEIVE_BUFFER_SIZE,
	            MSG_DONTWAIT) > 0)
		;
	if (r != -ENOENT)
		log_warnx("inet %s: %s: %s", nft->table, what, strerror(-r));
	return r;
}

/* Appends the elements of one set, with the time they have left, to list. */
static int
set_dump(struct nft *nft, uint8_t set_id, struct element_list *list)
{
	char header[MNL_SOCKET_BUFFER_SIZE], what[64];
	struct nftnl_set *set;
	struct nlmsghdr *nlh;
	int r;

	if ((set = nftnl_set_alloc()) == NULL)
		return -ENOMEM;
	nftnl_set_set_str(set, NFTNL_SET_TABLE, nft->table);
	nftnl_set_set_str(set, NFTNL_SET_NAME, sets[set_id].name);
	nlh =
	    nftnl_nlmsg_build_hdr(header, NFT_MSG_GETSETELEM, NFPROTO_INET, NLM_F_DUMP, nft->seq++);
	nftnl_set_elems_nlmsg_build_payload(nlh, set);
	nftnl_set_free(set);
	list->set = set_id;
	list->error = 0;
	list->since_ms = nft->since_ms;
	snprintf(what, sizeof(what), "dump set %s", sets[set_id].name);
	r = request_run(nft, nlh, dump_callback, list, &list->error, what);
	if (r == -ENOENT)
		log_warnx("inet %s: %s: the set is missing", nft->table, what);
	return r;
}

/* One pass over the six ban sets, sorted, one element per key. */
static int
ban_sets_dump_once(struct nft *nft, struct element_list *list)
{
	int r;

	memset(list, 0, sizeof(*list));
	for (uint8_t set = 0; set < SET_BAN_COUNT; set++) {
		if ((r = set_dump(nft, set, list)) < 0) {
			free(list->elements);
			list->elements = NULL;
			return r;
		}
	}
	list->count = elements_sort_unique(list->elements, list->count);
	return 0;
}

static bool
same_keys(const struct element_list *a, const struct element_list *b)
{
	if (a->count != b->count)
		return false;
	for (size_t i = 0; i < a->count; i++)
		if (element_compare(&a->elements[i], &b->elements[i]) != 0)
			return false;
	return true;
}

/*
 * The kernel walks a hash set while it may be resizing it (after a large
 * insert or delete), and such a dump can repeat some elements and miss
 * others. Duplicates are merged; against misses the dump is repeated until
 * two passes in a row agree. A reconcile on a short listing would delete
 * nothing it should keep, but it would miss stale bans, and operators read
 * the listing.
 */
static int
ban_sets_dump(struct nft *nft, struct element_list *list)
{
	struct element_list previous;
	int r;

	if ((r = ban_sets_dump_once(nft, &previous)) < 0)
		return r;
	for (int pass = 0; pass < DUMP_PASSES_MAX; pass++) {
		if ((r = ban_sets_dump_once(nft, list)) < 0)
			break;
		if (same_keys(&previous, list)) {
			free(previous.elements);
			return 0;
		}
		free(previous.elements);
		previous = *list;
	}
	if (r == 0) {
		log_warnx("inet %s: the ban sets kept changing across %d dumps; using the last",
		          nft->table, DUMP_PASSES_MAX + 1);
		*list = previous;
		return 0;
	}
	free(previous.elements);
	return r;
}

/* Rules. */

static struct nftnl_expr *
rule_expr(struct nftnl_rule *rule, const char *name)
{
	struct nftnl_expr *expr = nftnl_expr_alloc(name);

	if (expr == NULL)
		fatal("nftnl_expr_alloc %s", name);
	nftnl_rule_add_expr(rule, expr);
	return expr;
}

static void
rule_meta(struct nftnl_rule *rule, uint32_t key)
{
	struct nftnl_expr *expr = rule_expr(rule, "meta");

	nftnl_expr_set_u32(expr, NFTNL_EXPR_META_KEY, key);
	nftnl_expr_set_u32(expr, NFTNL_EXPR_META_DREG, NFT_REG_1);
}

static void
rule_compare(struct nftnl_rule *rule, uint32_t op, const void *data, uint32_t length)
{
	struct nftnl_expr *expr = rule_expr(rule, "cmp");

	nftnl_expr_set_u32(expr, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
	nftnl_expr_set_u32(expr, NFTNL_EXPR_CMP_OP, op);
	nftnl_expr_set(expr, NFTNL_EXPR_CMP_DATA, data, length);
}

static void
rule_equals(struct nftnl_rule *rule, const void *data, uint32_t length)
{
	rule_compare(rule, NFT_CMP_EQ, data, length);
}

static void
rule_meta_equals(struct nftnl_rule *rule, uint32_t key, uint8_t value)
{
	rule_meta(rule, key);
	rule_equals(rule, &value, sizeof(value));
}

static void
rule_payload_to(struct nftnl_rule *rule, uint32_t dreg, uint32_t base, uint32_t offset,
                uint32_t length)
{
	struct nftnl_expr *expr = rule_expr(rule, "payload");

	nftnl_expr_set_u32(expr, NFTNL_EXPR_PAYLOAD_DREG, dreg);
	nftnl_expr_set_u32(expr, NFTNL_EXPR_PAYLOAD_BASE, base);
	nftnl_expr_set_u32(expr, NFTNL_EXPR_PAYLOAD_OFFSET, offset);
	nftnl_expr_set_u32(expr, NFTNL_EXPR_PAYLOAD_LEN, length);
}

static void
rule_payload(struct nftnl_rule *rule, uint32_t base, uint32_t offset, uint32_t length)
{
	rule_payload_to(rule, NFT_REG_1, base, offset, length);
}

static void
rule_mask(struct nftnl_rule *rule, const void *mask, uint32_t length)
{
	struct nftnl_expr *expr = rule_expr(rule, "bitwise");
	static const uint8_t zero[16];

	nftnl_expr_set_u32(expr, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
	nftnl_expr_set_u32(expr, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
	nftnl_expr_set_u32(expr, NFTNL_EXPR_BITWISE_LEN, length);
	nftnl_expr_set(expr, NFTNL_EXPR_BITWISE_MASK, mask, length);
	nftnl_expr_set(expr, NFTNL_EXPR_BITWISE_XOR, zero, length);
}

static void
rule_lookup(struct nftnl_rule *rule, uint8_t set, bool inverted)
{
	struct nftnl_expr *expr = rule_expr(rule, "lookup");

	nftnl_expr_set_u32(expr, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
	nftnl_expr_set_str(expr, NFTNL_EXPR_LOOKUP_SET, sets[set].name);
	if (inverted)
		nftnl_expr_set_u32(expr, NFTNL_EXPR_LOOKUP_FLAGS, NFT_LOOKUP_F_INV);
}

static void
rule_count_drop(struct nftnl_rule *rule)
{
	struct nftnl_expr *expr;

	rule_expr(rule, "counter");
	expr = rule_expr(rule, "immediate");
	nftnl_expr_set_u32(expr, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
	nftnl_expr_set_u32(expr, NFTNL_EXPR_IMM_VERDICT, NF_DROP);
}

/*
 * The rule that drops what a scope match covers from the sources in the
 * scope's set of one family. Cheap tests come first: most packets leave the
 * rule at the protocol or port compare, before any set lookup.
 */
static struct nftnl_rule *
rule_build(const struct nft *nft, const char *chain, bool ipv6, const struct scope_match *match)
{
	struct nftnl_rule *rule = nftnl_rule_alloc();
	uint32_t address_offset = ipv6 ? 8 : 12, address_length = ipv6 ? 16 : 4;
	uint8_t source_mask[16] = {0};

	if (rule == NULL)
		fatal("nftnl_rule_alloc");
	nftnl_rule_set_str(rule, NFTNL_RULE_TABLE, nft->table);
	nftnl_rule_set_str(rule, NFTNL_RULE_CHAIN, chain);
	nftnl_rule_set_u32(rule, NFTNL_RULE_FAMILY, NFPROTO_INET);

	rule_meta_equals(rule, NFT_META_NFPROTO, ipv6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
	if (match->l4proto != 0) {
		uint16_t port = htons(match->port);

		rule_meta_equals(rule, NFT_META_L4PROTO, match->l4proto);
		rule_payload(rule, NFT_PAYLOAD_TRANSPORT_HEADER, 2, sizeof(port));
		rule_equals(rule, &port, sizeof(port));
	}
	if (match->syn_only) {
		const uint8_t syn_ack = 0x12, syn = 0x02;

		rule_payload(rule, NFT_PAYLOAD_TRANSPORT_HEADER, 13, 1);
		rule_mask(rule, &syn_ack, 1);
		rule_equals(rule, &syn, 1);
	}
	rule_payload(rule, NFT_PAYLOAD_NETWORK_HEADER, address_offset, address_length);
	if (ipv6) {
		memset(source_mask, 0xff, sizeof(source_mask));
		mask_address(source_mask, sizeof(source_mask), nft->ipv6_prefix_len);
		rule_mask(rule, source_mask, address_length);
	}
	rule_lookup(rule, ban_set(match->scope, ipv6 ? SOURCE_FAMILY_IPV6 : SOURCE_FAMILY_IPV4),
	            false);
	if (match->allow_check) {
		/* The destination follows the source in both headers. */
		rule_payload(rule, NFT_PAYLOAD_NETWORK_HEADER, address_offset + address_length,
		             address_length);
		rule_lookup(rule, ipv6 ? SET_ALLOW6 : SET_ALLOW4, true);
	}
	rule_count_drop(rule);
	return rule;
}

/*
 * The anti-spoofing rules of one family, in chain spoofing. held false: on
 * the interfaces of the family's vm4_interfaces set, a source outside the
 * interface's ranges in vm4_sources is dropped; the sources that never leave
 * the link and that no VM can own (0.0.0.0/8 of a DHCP client,
 * 169.254.0.0/16, ::, fe80::/10) pass, as in the XDP program. held true: on
 * any VM interface, a source another interface holds (vm4_held) is dropped.
 * As nft writes them:
 *   iif @vm4_interfaces ip saddr != 0.0.0.0/8 ip saddr != 169.254.0.0/16
 *       iif . ip saddr != @vm4_sources counter drop
 *   iif @vm_interfaces ip saddr @vm4_held iif . ip saddr != @vm4_sources counter drop
 */
static struct nftnl_rule *
rule_spoofing_build(const struct nft *nft, bool ipv6, bool held)
{
	static const uint8_t mask8[16] = {0xff}, mask16[16] = {0xff, 0xff},
	                     mask10[16] = {0xff, 0xc0};
	static const uint8_t zero[16], link_local4[4] = {169, 254}, link_local6[16] = {0xfe, 0x80};
	uint32_t address_offset = ipv6 ? 8 : 12, address_length = ipv6 ? 16 : 4;
	struct nftnl_rule *rule = nftnl_rule_alloc();
	struct nftnl_expr *expr;

	if (rule == NULL)
		fatal("nftnl_rule_alloc");
	nftnl_rule_set_str(rule, NFTNL_RULE_TABLE, nft->table);
	nftnl_rule_set_str(rule, NFTNL_RULE_CHAIN, chain_names[CHAIN_SPOOFING]);
	nftnl_rule_set_u32(rule, NFTNL_RULE_FAMILY, NFPROTO_INET);
	rule_meta_equals(rule, NFT_META_NFPROTO, ipv6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
	rule_meta(rule, NFT_META_IIF);
	if (held) {
		rule_lookup(rule, SET_VM_INTERFACES, false);
		rule_payload(rule, NFT_PAYLOAD_NETWORK_HEADER, address_offset, address_length);
		rule_lookup(rule, ipv6 ? SET_VM6_HELD : SET_VM4_HELD, false);
		goto foreign;
	}
	rule_lookup(rule, ipv6 ? SET_VM6_INTERFACES : SET_VM4_INTERFACES, false);
	rule_payload(rule, NFT_PAYLOAD_NETWORK_HEADER, address_offset, address_length);
	rule_mask(rule, ipv6 ? mask10 : mask8, address_length);
	rule_compare(rule, NFT_CMP_NEQ, ipv6 ? link_local6 : zero, address_length);
	rule_payload(rule, NFT_PAYLOAD_NETWORK_HEADER, address_offset, address_length);
	if (ipv6) {
		rule_compare(rule, NFT_CMP_NEQ, zero, address_length);
	} else {
		rule_mask(rule, mask16, address_length);
		rule_compare(rule, NFT_CMP_NEQ, link_local4, address_length);
	}
foreign:
	/* The concatenation: the interface, big endian, then the source in the next register. */
	rule_meta(rule, NFT_META_IIF);
	expr = rule_expr(rule, "byteorder");
	nftnl_expr_set_u32(expr, NFTNL_EXPR_BYTEORDER_SREG, NFT_REG_1);
	nftnl_expr_set_u32(expr, NFTNL_EXPR_BYTEORDER_DREG, NFT_REG_1);
	nftnl_expr_set_u32(expr, NFTNL_EXPR_BYTEORDER_OP, NFT_BYTEORDER_HTON);
	nftnl_expr_set_u32(expr, NFTNL_EXPR_BYTEORDER_LEN, 4);
	nftnl_expr_set_u32(expr, NFTNL_EXPR_BYTEORDER_SIZE, 4);
	rule_payload_to(rule, NFT_REG32_01, NFT_PAYLOAD_NETWORK_HEADER, address_offset,
	                address_length);
	rule_lookup(rule, ipv6 ? SET_VM6_SOURCES : SET_VM4_SOURCES, true);
	rule_count_drop(rule);
	return rule;
}

/* The table's skeleton. */

static void
batch_table(struct nft *nft, uint16_t type, uint16_t flags)
{
	struct nftnl_table *table = nftnl_table_alloc();
	struct nlmsghdr *nlh;

	if (table == NULL)
		fatal("nftnl_table_alloc");
	nftnl_table_set_str(table, NFTNL_TABLE_NAME, nft->table);
	nftnl_table_set_u32(table, NFTNL_TABLE_FAMILY, NFPROTO_INET);
	nlh = batch_message(nft, type, flags, SET_NONE);
	nftnl_table_nlmsg_build_payload(nlh, table);
	batch_message_end(nft, nlh);
	nftnl_table_free(table);
}

/* Creates the set if missing: an existing one keeps its elements. */
static void
batch_set(struct nft *nft, uint8_t set_id)
{
	struct nftnl_set *set = nftnl_set_alloc();
	struct nlmsghdr *nlh;

	if (set == NULL)
		fatal("nftnl_set_alloc");
	nftnl_set_set_str(set, NFTNL_SET_TABLE, nft->table);
	nftnl_set_set_str(set, NFTNL_SET_NAME, sets[set_id].name);
	nftnl_set_set_u32(set, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_u32(set, NFTNL_SET_ID, set_id + 1);
	nftnl_set_set_u32(set, NFTNL_SET_KEY_TYPE, sets[set_id].key_type);
	nftnl_set_set_u32(set, NFTNL_SET_KEY_LEN, (uint32_t)set_key_length(set_id));
	nftnl_set_set_u32(set, NFTNL_SET_FLAGS, sets[set_id].flags);
	if (sets[set_id].key_type == NFT_TYPE_IFINDEX) {
		/* An index is in host byte order: nft must know it, to print names. */
		struct nftnl_udata_buf *udata = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);

		if (udata == NULL ||
		    !nftnl_udata_put_u32(udata, NFTNL_UDATA_SET_KEYBYTEORDER, NFT_BYTEORDER_HOST))
			fatal("nftnl_udata_buf_alloc");
		nftnl_set_set_data(set, NFTNL_SET_USERDATA, nftnl_udata_buf_data(udata),
		                   nftnl_udata_buf_len(udata));
		nftnl_udata_buf_free(udata);
	}
	if (sets[set_id].concat) {
		/* The fields' lengths, ended by a 0, as the kernel's pipapo set wants them. */
		uint8_t fields[NFT_REG32_COUNT] = {4, (uint8_t)(set_key_length(set_id) - 4)};

		nftnl_set_set_data(set, NFTNL_SET_DESC_CONCAT, fields, sizeof(fields));
	}
	/* Bounds the kernel's memory; the kernel also sizes its hash table by it. */
	if (set_id < SET_BAN_COUNT && nft->max_bans_per_set > 0)
		nftnl_set_set_u32(set, NFTNL_SET_DESC_SIZE, nft->max_bans_per_set);
	nlh = batch_message(nft, NFT_MSG_NEWSET, NLM_F_CREATE, set_id);
	nftnl_set_nlmsg_build_payload(nlh, set);
	batch_message_end(nft, nlh);
	nftnl_set_free(set);
}

/*
 * A message naming only the set: NFT_MSG_DELSET deletes it, and
 * NFT_MSG_DELSETELEM, without elements, flushes it.
 */
static void
batch_set_named(struct nft *nft, uint16_t type, uint8_t set_id)
{
	struct nftnl_set *set = nftnl_set_alloc();
	struct nlmsghdr *nlh;

	if (set == NULL)
		fatal("nftnl_set_alloc");
	nftnl_set_set_str(set, NFTNL_SET_TABLE, nft->table);
	nftnl_set_set_str(set, NFTNL_SET_NAME, sets[set_id].name);
	nlh = batch_message(nft, type, 0, set_id);
	if (type == NFT_MSG_DELSET)
		nftnl_set_nlmsg_build_payload(nlh, set);
	else
		nftnl_set_elems_nlmsg_build_payload(nlh, set);
	batch_message_end(nft, nlh);
	nftnl_set_free(set);
}

/*
 * Does the kernel update the timeout of an element that is added again, as
 * Linux does from 6.10 on? Tried on a set of its own: an element added for
 * two hours, then again for one, must have an hour left.
 */
static int
probe_timeout_update(struct nft *nft, bool *supported)
{
	struct element element = {.set = SET_PROBE, .timeout_ms = 2 * PROBE_TIMEOUT_MS};
	struct element_list list = {0};
	int r, r_delete;

	*supported = false;
	batch_begin(nft);
	batch_set(nft, SET_PROBE);
	batch_set_named(nft, NFT_MSG_DELSETELEM, SET_PROBE);
	if ((r = batch_elements(nft, NFT_MSG_NEWSETELEM, NLM_F_CREATE, &element, 1, true)) < 0 ||
	    (r = batch_commit(nft)) < 0)
		return r;
	element.timeout_ms = PROBE_TIMEOUT_MS;
	batch_begin(nft);
	if ((r = batch_elements(nft, NFT_MSG_NEWSETELEM, NLM_F_CREATE, &element, 1, true)) == 0 &&
	    (r = batch_commit(nft)) == 0 && (r = set_dump(nft, SET_PROBE, &list)) == 0)
		*supported = list.count == 1 && list.elements[0].timeout_ms <= PROBE_TIMEOUT_MS;
	free(list.elements);
	batch_begin(nft);
	batch_set_named(nft, NFT_MSG_DELSET, SET_PROBE);
	r_delete = batch_commit(nft);
	return r < 0 ? r : r_delete;
}

/* Appends a rule to its chain, and frees it. */
static void
batch_rule(struct nft *nft, struct nftnl_rule *rule)
{
	struct nlmsghdr *nlh =
	    batch_message(nft, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND, SET_NONE);

	nftnl_rule_nlmsg_build_payload(nlh, rule);
	batch_message_end(nft, nlh);
	nftnl_rule_free(rule);
}

/* One scope match's rules in a base chain, for IPv4 and IPv6. */
static void
batch_scope_rules(struct nft *nft, size_t index, const struct scope_match *match)
{
	for (int ipv6 = 0; ipv6 <= 1; ipv6++)
		batch_rule(nft, rule_build(nft, chain_names[index], ipv6, match));
}

/*
 * The VM sets afresh, in the batch begun: flushed, then filled with what
 * nft_set_vm_sources wants.
 */
static int
batch_vm_sets(struct nft *nft)
{
	for (uint8_t set = SET_VM_INTERFACES; set <= SET_VM6_HELD; set++)
		batch_set_named(nft, NFT_MSG_DELSETELEM, set);
	return batch_element_op(nft, nft->vm_elements, nft->vm_element_count, ELEMENT_ADD);
}

/* Creates the base chain if missing and drops its rules. */
static void
batch_chain(struct nft *nft, size_t index)
{
	struct nftnl_chain *chain = nftnl_chain_alloc();
	struct nftnl_rule *rule = nftnl_rule_alloc();
	struct nlmsghdr *nlh;

	if (chain == NULL || rule == NULL)
		fatal("nftnl_chain_alloc");
	nftnl_chain_set_str(chain, NFTNL_CHAIN_TABLE, nft->table);
	nftnl_chain_set_str(chain, NFTNL_CHAIN_NAME, chain_names[index]);
	nftnl_chain_set_u32(chain, NFTNL_CHAIN_FAMILY, NFPROTO_INET);
	nftnl_chain_set_str(chain, NFTNL_CHAIN_TYPE, CHAIN_TYPE);
	nftnl_chain_set_u32(chain, NFTNL_CHAIN_HOOKNUM, chain_hooks[index]);
	nftnl_chain_set_s32(chain, NFTNL_CHAIN_PRIO, chain_priorities[index]);
	nftnl_chain_set_u32(chain, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	nlh = batch_message(nft, NFT_MSG_NEWCHAIN, NLM_F_CREATE, SET_NONE);
	nftnl_chain_nlmsg_build_payload(nlh, chain);
	batch_message_end(nft, nlh);
	nftnl_chain_free(chain);

	/* A rule delete without a handle flushes the chain. */
	nftnl_rule_set_str(rule, NFTNL_RULE_TABLE, nft->table);
	nftnl_rule_set_str(rule, NFTNL_RULE_CHAIN, chain_names[index]);
	nftnl_rule_set_u32(rule, NFTNL_RULE_FAMILY, NFPROTO_INET);
	nlh = batch_message(nft, NFT_MSG_DELRULE, 0, SET_NONE);
	nftnl_rule_nlmsg_build_payload(nlh, rule);
	batch_message_end(nft, nlh);
	nftnl_rule_free(rule);

	if (index == CHAIN_SPOOFING) {
		for (int rule = 0; rule < 4; rule++)
			batch_rule(nft, rule_spoofing_build(nft, rule & 1, rule >= 2));
		return;
	}
	for (size_t i = 0; i < sizeof(scope_matches) / sizeof(scope_matches[0]); i++)
		batch_scope_rules(nft, index, &scope_matches[i]);
	for (size_t i = 0; i < nft->web_port_count; i++) {
		const struct scope_match web = {SCOPE_WEB, IPPROTO_TCP, nft->web_ports[i], false,
		                                false};

		batch_scope_rules(nft, index, &web);
	}
}

/* Deletes a base chain that is not ours any more (another type, hook or priority). */
static void
batch_chain_delete(struct nft *nft, size_t index)
{
	struct nftnl_chain *chain = nftnl_chain_alloc();
	struct nftnl_rule *rule = nftnl_rule_alloc();
	struct nlmsghdr *nlh;

	if (chain == NULL || rule == NULL)
		fatal("nftnl_chain_alloc");
	nftnl_rule_set_str(rule, NFTNL_RULE_TABLE, nft->table);
	nftnl_rule_set_str(rule, NFTNL_RULE_CHAIN, chain_names[index]);
	nlh = batch_message(nft, NFT_MSG_DELRULE, 0, SET_NONE);
	nftnl_rule_nlmsg_build_payload(nlh, rule);
	batch_message_end(nft, nlh);
	nftnl_rule_free(rule);
	nftnl_chain_set_str(chain, NFTNL_CHAIN_TABLE, nft->table);
	nftnl_chain_set_str(chain, NFTNL_CHAIN_NAME, chain_names[index]);
	nlh = batch_message(nft, NFT_MSG_DELCHAIN, 0, SET_NONE);
	nftnl_chain_nlmsg_build_payload(nlh, chain);
	batch_message_end(nft, nlh);
	nftnl_chain_free(chain);
}

/* Adds 2^(bits - prefix_len) to a big-endian address; false when it wraps past the top. */
static bool
range_end(uint8_t *addr, unsigned prefix_len)
{
	unsigned carry;
	int byte;

	if (prefix_len == 0)
		return false;
	byte = (int)((prefix_len - 1) / 8);
	carry = 1u << (7 - (prefix_len - 1) % 8);
	for (; byte >= 0 && carry != 0; byte--) {
		unsigned sum = addr[byte] + carry;

		addr[byte] = (uint8_t)sum;
		carry = sum >> 8;
	}
	return carry == 0;
}

/* An always-allowed range: [start, end), or from start to the top when open. */
struct range {
	uint8_t set;
	bool open;
	uint8_t start[16];
	uint8_t end[16];
};

static int
range_compare(const void *a, const void *b)
{
	const struct range *x = a, *y = b;

	if (x->set != y->set)
		return x->set < y->set ? -1 : 1;
	return memcmp(x->start, y->start, sizeof(x->start));
}

/*
 * Turns prefixes into the elements of the interval sets set4 and set6: a
 * start element and an end element one past the range, none when the range
 * reaches the top of the address space. Overlapping and adjacent prefixes
 * are merged first, since the kernel refuses overlapping intervals. ranges
 * is scratch room for count; out has room for twice as many.
 */
static size_t
interval_elements(const struct prefix *prefixes, size_t prefix_count, uint8_t set4, uint8_t set6,
                  struct range *ranges, struct element *out)
{
	size_t range_count = 0, count = 0, kept = 0;

	for (size_t i = 0; i < prefix_count; i++) {
		const struct prefix *prefix = &prefixes[i];
		struct range *range = &ranges[range_count++];

		memset(range, 0, sizeof(*range));
		range->set = prefix->family == SOURCE_FAMILY_IPV6 ? set6 : set4;
		memcpy(range->start, prefix->addr, set_key_length(range->set));
		mask_address(range->start, set_key_length(range->set), prefix->len);
		memcpy(range->end, range->start, sizeof(range->end));
		range->open = !range_end(range->end, prefix->len);
	}
	qsort(ranges, range_count, sizeof(ranges[0]), range_compare);
	/* Merge in place: ranges[kept - 1] is the range being grown. */
	for (size_t i = 0; i < range_count; i++) {
		struct range *last = kept > 0 ? &ranges[kept - 1] : NULL;

		if (last != NULL && last->set == ranges[i].set &&
		    (last->open || memcmp(ranges[i].start, last->end, sizeof(last->end)) <= 0)) {
			if (ranges[i].open)
				last->open = true;
			else if (!last->open &&
			         memcmp(ranges[i].end, last->end, sizeof(last->end)) > 0)
				memcpy(last->end, ranges[i].end, sizeof(last->end));
			continue;
		}
		ranges[kept++] = ranges[i];
	}
	for (size_t i = 0; i < kept; i++) {
		struct element *start = &out[count++];

		memset(start, 0, sizeof(*start));
		start->set = ranges[i].set;
		memcpy(start->key, ranges[i].start, sizeof(ranges[i].start));
		if (!ranges[i].open) {
			struct element *end = &out[count++];

			*end = *start;
			end->interval_end = 1;
			memcpy(end->key, ranges[i].end, sizeof(ranges[i].end));
		}
	}
	return count;
}

/* The always-allowed sets' elements. */
static size_t
allow_elements(const struct nft_options *options, struct element *out)
{
	struct range ranges[ALWAYS_ALLOWED_MAX];

	return interval_elements(options->always_allowed, options->always_allowed_count, SET_ALLOW4,
	                         SET_ALLOW6, ranges, out);
}

static int
options_check(const struct nft_options *options)
{
	if (options->table == NULL || options->table[0] == '\0' ||
	    strlen(options->table) >= TABLE_NAME_MAX) {
		log_warnx("nft: bad table name");
		return -EINVAL;
	}
	if (options->ipv6_prefix_len == 0 || options->ipv6_prefix_len > 128) {
		log_warnx("inet %s: bad IPv6 prefix length %u", options->table,
		          options->ipv6_prefix_len);
		return -EINVAL;
	}
	if (options->always_allowed_count > ALWAYS_ALLOWED_MAX) {
		log_warnx("inet %s: %zu always-allowed prefixes, at most %d", options->table,
		          options->always_allowed_count, ALWAYS_ALLOWED_MAX);
		return -E2BIG;
	}
	for (size_t i = 0; i < options->always_allowed_count; i++) {
		const struct prefix *prefix = &options->always_allowed[i];
		unsigned bits = prefix->family == SOURCE_FAMILY_IPV6 ? 128 : 32;

		if ((prefix->family != SOURCE_FAMILY_IPV4 &&
		     prefix->family != SOURCE_FAMILY_IPV6) ||
		    prefix->len > bits) {
			log_warnx("inet %s: bad always-allowed prefix %zu", options->table, i);
			return -EINVAL;
		}
	}
	return 0;
}

static int
socket_open(struct nft *nft)
{
	int one = 1, send_size = BATCH_BUFFER_SIZE, receive_size = RECEIVE_BUFFER_SIZE;
	int fd;

	if ((nft->socket = mnl_socket_open(NETLINK_NETFILTER)) == NULL) {
		log_warn("inet %s: netlink socket", nft->table);
		return -errno;
	}
	if (mnl_socket_bind(nft->socket, 0, MNL_SOCKET_AUTOPID) < 0) {
		log_warn("inet %s: netlink bind", nft->table);
		return -errno;
	}
	nft->portid = mnl_socket_get_portid(nft->socket);
	fd = mnl_socket_get_fd(nft->socket);
	/* The FORCE variants pass the sysctl limits; without privilege, ask plainly. */
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &send_size, sizeof(send_size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &send_size, sizeof(send_size));
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &receive_size, sizeof(receive_size)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_size, sizeof(receive_size));
	/* Errors name the bad attribute, and do not echo 64 KiB messages back. */
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	return 0;
}

/* Checking the ruleset. */

/* A chain's rules as text, one line a rule; more than this is not ours anyway. */
#define RULES_TEXT_MAX (256u * 1024)

struct rules_text {
	char *text;
	size_t length;
	size_t rules;
	int error;
};

static void rules_text_append(struct rules_text *out, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

static void
rules_text_append(struct rules_text *out, const char *format, ...)
{
	va_list args;
	int n;

	if (out->error != 0)
		return;
	if (out->text == NULL && (out->text = malloc(RULES_TEXT_MAX)) == NULL) {
		out->error = -ENOMEM;
		return;
	}
	va_start(args, format);
	n = vsnprintf(out->text + out->length, RULES_TEXT_MAX - out->length, format, args);
	va_end(args);
	if (n < 0 || (size_t)n >= RULES_TEXT_MAX - out->length) {
		out->error = -E2BIG;
		return;
	}
	out->length += (size_t)n;
}

/*
 * One rule as libnftnl prints its expressions, minus the counters' numbers,
 * which move with traffic: what the rule matches and what it does.
 */
static int
rule_callback(const struct nlmsghdr *nlh, void *data)
{
	struct rules_text *out = data;
	struct nftnl_rule *rule = nftnl_rule_alloc();
	struct nftnl_expr_iter *iter = NULL;
	struct nftnl_expr *expr;
	char text[512];

	if (rule == NULL || nftnl_rule_nlmsg_parse(nlh, rule) < 0 ||
	    (iter = nftnl_expr_iter_create(rule)) == NULL) {
		out->error = rule == NULL || iter == NULL ? -ENOMEM : -EPROTO;
		nftnl_rule_free(rule);
		return MNL_CB_ERROR;
	}
	while ((expr = nftnl_expr_iter_next(iter)) != NULL) {
		const char *name = nftnl_expr_get_str(expr, NFTNL_EXPR_NAME);

		if (strcmp(name, "counter") == 0)
			text[0] = '\0';
		else
			nftnl_expr_snprintf(text, sizeof(text), expr, NFTNL_OUTPUT_DEFAULT, 0);
		rules_text_append(out, "[ %s %s]", name, text);
	}
	rules_text_append(out, "\n");
	out->rules++;
	nftnl_expr_iter_destroy(iter);
	nftnl_rule_free(rule);
	return out->error != 0 ? MNL_CB_ERROR : MNL_CB_OK;
}

/* The rules of one of our chains as the kernel lists them; *out is malloc'd. */
static int
chain_rules_text(struct nft *nft, size_t index, struct rules_text *out)
{
	char request[MNL_SOCKET_BUFFER_SIZE], what[64];
	struct nftnl_rule *rule = nftnl_rule_alloc();
	struct nlmsghdr *nlh;
	int r;

	if (rule == NULL)
		fatal("nftnl_rule_alloc");
	memset(out, 0, sizeof(*out));
	/* The kernel lists only the rules of the table and chain named. */
	nftnl_rule_set_str(rule, NFTNL_RULE_TABLE, nft->table);
	nftnl_rule_set_str(rule, NFTNL_RULE_CHAIN, chain_names[index]);
	nlh = nftnl_nlmsg_build_hdr(request, NFT_MSG_GETRULE, NFPROTO_INET, NLM_F_DUMP, nft->seq++);
	nftnl_rule_nlmsg_build_payload(nlh, rule);
	nftnl_rule_free(rule);
	snprintf(what, sizeof(what), "list the rules of chain %s", chain_names[index]);
	rules_text_append(out, "%s", ""); /* an empty chain is an empty text, not NULL */
	if ((r = request_run(nft, nlh, rule_callback, out, &out->error, what)) < 0) {
		free(out->text);
		out->text = NULL;
	}
	return r;
}

static int
chain_rules_fingerprint(struct nft *nft, size_t index, char **out)
{
	struct rules_text rules;
	int r;

	*out = NULL;
	if ((r = chain_rules_text(nft, index, &rules)) < 0)
		return r;
	*out = rules.text;
	return 0;
}

/* What chain_callback found of one chain. */
struct chain_found {
	unsigned hook; /* the one it must have */
	int priority;
	bool ours; /* its type, hook, priority and policy are what batch_chain writes */
	int error;
};

static int
chain_callback(const struct nlmsghdr *nlh, void *data)
{
	struct chain_found *found = data;
	struct nftnl_chain *chain = nftnl_chain_alloc();
	const char *type;

	if (chain == NULL || nftnl_chain_nlmsg_parse(nlh, chain) < 0) {
		found->error = chain == NULL ? -ENOMEM : -EPROTO;
		nftnl_chain_free(chain);
		return MNL_CB_ERROR;
	}
	type = nftnl_chain_get_str(chain, NFTNL_CHAIN_TYPE);
	found->ours = nftnl_chain_is_set(chain, NFTNL_CHAIN_HOOKNUM) &&
	              nftnl_chain_is_set(chain, NFTNL_CHAIN_PRIO) &&
	              nftnl_chain_is_set(chain, NFTNL_CHAIN_POLICY) && type != NULL &&
	              strcmp(type, CHAIN_TYPE) == 0 &&
	              nftnl_chain_get_s32(chain, NFTNL_CHAIN_PRIO) == found->priority &&
	              nftnl_chain_get_u32(chain, NFTNL_CHAIN_HOOKNUM) == found->hook &&
	              nftnl_chain_get_u32(chain, NFTNL_CHAIN_POLICY) == NF_ACCEPT;
	nftnl_chain_free(chain);
	return MNL_CB_OK;
}

/* 1 when the base chain is as batch_chain writes it, 0 when not, -ENOENT when missing. */
static int
chain_check(struct nft *nft, size_t index)
{
	char request[MNL_SOCKET_BUFFER_SIZE], what[64];
	struct nftnl_chain *chain = nftnl_chain_alloc();
	struct chain_found found = {.hook = chain_hooks[index],
	                            .priority = chain_priorities[index]};
	struct nlmsghdr *nlh;
	int r;

	if (chain == NULL)
		fatal("nftnl_chain_alloc");
	nftnl_chain_set_str(chain, NFTNL_CHAIN_TABLE, nft->table);
	nftnl_chain_set_str(chain, NFTNL_CHAIN_NAME, chain_names[index]);
	nlh = nftnl_nlmsg_build_hdr(request, NFT_MSG_GETCHAIN, NFPROTO_INET, NLM_F_ACK, nft->seq++);
	nftnl_chain_nlmsg_build_payload(nlh, chain);
	nftnl_chain_free(chain);
	snprintf(what, sizeof(what), "ask for chain %s", chain_names[index]);
	if ((r = request_run(nft, nlh, chain_callback, &found, &found.error, what)) < 0)
		return r;
	return found.ours;
}

/* 1 when the set is there, -ENOENT when not. */
static int
set_present(struct nft *nft, uint8_t set_id)
{
	char request[MNL_SOCKET_BUFFER_SIZE], what[64];
	struct nftnl_set *set = nftnl_set_alloc();
	struct nlmsghdr *nlh;
	int r;

	if (set == NULL)
		fatal("nftnl_set_alloc");
	nftnl_set_set_str(set, NFTNL_SET_TABLE, nft->table);
	nftnl_set_set_str(set, NFTNL_SET_NAME, sets[set_id].name);
	nlh = nftnl_nlmsg_build_hdr(request, NFT_MSG_GETSET, NFPROTO_INET, NLM_F_ACK, nft->seq++);
	nftnl_set_nlmsg_build_payload(nlh, set);
	nftnl_set_free(set);
	snprintf(what, sizeof(what), "ask for set %s", sets[set_id].name);
	r = request_run(nft, nlh, NULL, NULL, NULL, what);
	return r < 0 ? r : 1;
}

/* Do the sets first..last hold wanted (sorted)? 1, 0, or -errno. */
static int
sets_hold(struct nft *nft, uint8_t first, uint8_t last, const struct element *wanted,
          size_t wanted_count, size_t *found_count)
{
	struct element_list list = {0};
	size_t count;
	int r = 0;

	*found_count = 0;
	for (uint8_t set = first; set <= last && r == 0; set++)
		r = set_dump(nft, set, &list);
	if (r < 0) {
		free(list.elements);
		return r == -ENOENT ? 0 : r;
	}
	count = elements_sort_unique(list.elements, list.count);
	*found_count = count;
	r = count == wanted_count;
	for (size_t i = 0; r && i < count; i++)
		r = element_compare(&list.elements[i], &wanted[i]) == 0 &&
		    list.elements[i].interval_end == wanted[i].interval_end;
	free(list.elements);
	return r;
}

static size_t
text_lines(const char *text)
{
	size_t lines = 0;

	for (; text != NULL && *text != '\0'; text++)
		lines += *text == '\n';
	return lines;
}

/*
 * The table as the daemon wants it, in one batch: the table, its sets and
 * chains made if missing, a chain whose type, hook or priority is not ours
 * made anew, the chains' rules and the always-allowed sets written afresh.
 * Ban elements stay. Then the rules are listed back, for nft_ruleset_check.
 */
static int
skeleton_write(struct nft *nft, const bool chain_remake[CHAIN_COUNT])
{
	int r;

	batch_begin(nft);
	batch_table(nft, NFT_MSG_NEWTABLE, NLM_F_CREATE);
	for (uint8_t set = 0; set < SET_COUNT; set++)
		batch_set(nft, set);
	batch_set_named(nft, NFT_MSG_DELSETELEM, SET_ALLOW4);
	batch_set_named(nft, NFT_MSG_DELSETELEM, SET_ALLOW6);
	for (size_t i = 0; i < CHAIN_COUNT; i++) {
		if (chain_remake != NULL && chain_remake[i])
			batch_chain_delete(nft, i);
		batch_chain(nft, i);
	}
	/* Starts and ends of one range must travel together: one batch. */
	if ((r = batch_element_op(nft, nft->allowed, nft->allowed_count, ELEMENT_ADD)) < 0 ||
	    (r = batch_vm_sets(nft)) < 0) {
		nft->note_count = 0;
		return r;
	}
	if ((r = batch_commit(nft)) < 0)
		return r;
	for (size_t i = 0; i < CHAIN_COUNT; i++) {
		free(nft->rules_written[i]);
		nft->rules_written[i] = NULL;
		if ((r = chain_rules_fingerprint(nft, i, &nft->rules_written[i])) < 0)
			return r;
	}
	return 0;
}

int
nft_ruleset_check(struct nft *nft, struct nft_ruleset_damage *damage)
{
	bool remake[CHAIN_COUNT] = {false};
	size_t allowed_found, vm_found;
	int r;

	memset(damage, 0, sizeof(*damage));
	for (uint8_t set = 0; set < SET_COUNT; set++) {
		if ((r = set_present(nft, set)) == -ENOENT) {
			log_warnx("inet %s: set %s is missing (deleted by another program?)",
			          nft->table, sets[set].name);
			damage->sets_missing++;
		} else if (r < 0) {
			return r;
		}
	}
	for (size_t i = 0; i < CHAIN_COUNT; i++) {
		struct rules_text rules;

		if ((r = chain_check(nft, i)) == -ENOENT) {
			log_warnx("inet %s: chain %s is missing (deleted by another program?)",
			          nft->table, chain_names[i]);
			damage->chains_missing++;
			continue;
		}
		if (r < 0)
			return r;
		if (r == 0) {
			log_warnx("inet %s: chain %s is not the daemon's: another type, hook, "
			          "priority or policy than filter, %s, priority %d, policy accept",
			          nft->table, chain_names[i], chain_names[i], chain_priorities[i]);
			damage->chains_changed++;
			remake[i] = true;
			continue;
		}
		if ((r = chain_rules_text(nft, i, &rules)) < 0)
			return r;
		if (nft->rules_written[i] == NULL ||
		    strcmp(rules.text, nft->rules_written[i]) != 0) {
			log_warnx(
			    "inet %s: chain %s: its %zu rules are not the %zu the daemon wrote "
			    "(deleted, added or changed by another program)",
			    nft->table, chain_names[i], rules.rules,
			    text_lines(nft->rules_written[i]));
			damage->rules_changed++;
		}
		free(rules.text);
	}
	if ((r = sets_hold(nft, SET_ALLOW4, SET_ALLOW6, nft->allowed, nft->allowed_count,
	                   &allowed_found)) < 0)
		return r;
	if (r == 0) {
		log_warnx("inet %s: the always-allowed sets hold %zu elements, not the %zu the "
		          "daemon wrote",
		          nft->table, allowed_found, nft->allowed_count);
		damage->allow_sets_changed++;
	}
	if ((r = sets_hold(nft, SET_VM_INTERFACES, SET_VM6_HELD, nft->vm_elements,
	                   nft->vm_element_count, &vm_found)) < 0)
		return r;
	if (r == 0) {
		log_warnx("inet %s: the VM interface and source sets hold %zu elements, not the "
		          "%zu the daemon wrote",
		          nft->table, vm_found, nft->vm_element_count);
		damage->vm_sets_changed++;
	}
	if (damage->sets_missing + damage->chains_missing + damage->chains_changed +
	        damage->rules_changed + damage->allow_sets_changed + damage->vm_sets_changed ==
	    0)
		return 0;
	if ((r = skeleton_write(nft, remake)) < 0) {
		log_warnx("inet %s: the chains, rules and sets could not be rewritten", nft->table);
		return r;
	}
	log_warnx("inet %s: chains, rules, always-allowed and VM sets rewritten as the daemon "
	          "makes them",
	          nft->table);
	return 0;
}

/* The web ports beyond the fixed 80 and 443 matches, each once. */
static void
web_ports_set(struct nft *nft, const uint16_t *ports, size_t count)
{
	nft->web_port_count = 0;
	for (size_t i = 0; i < count && nft->web_port_count < NFT_WEB_PORTS_MAX; i++) {
		bool known = ports[i] == 80 || ports[i] == 443;

		for (size_t j = 0; j < nft->web_port_count && !known; j++)
			known = nft->web_ports[j] == ports[i];
		if (!known)
			nft->web_ports[nft->web_port_count++] = ports[i];
	}
}

int
nft_set_web_ports(struct nft *nft, const uint16_t *ports, size_t count)
{
	uint16_t old[NFT_WEB_PORTS_MAX];
	size_t old_count = nft->web_port_count;
	int r;

	memcpy(old, nft->web_ports, sizeof(old));
	web_ports_set(nft, ports, count);
	if (old_count == nft->web_port_count &&
	    memcmp(old, nft->web_ports, old_count * sizeof(old[0])) == 0)
		return 0;
	if ((r = skeleton_write(nft, NULL)) < 0) {
		log_warnx("inet %s: the web scope's ports could not be rewritten", nft->table);
		memcpy(nft->web_ports, old, sizeof(old));
		nft->web_port_count = old_count;
		return r;
	}
	return 0;
}

/*
 * The elements of one interface: in vm_interfaces, in the interface sets of
 * the families it checks, and its ranges in the source sets.
 */
static size_t
vm_source_elements(const struct nft_vm_sources *vm, struct element *out)
{
	uint32_t ifindex = htonl(vm->ifindex);
	size_t count = 0;

	memset(&out[count], 0, sizeof(out[count]));
	out[count].set = SET_VM_INTERFACES;
	memcpy(out[count++].key, &vm->ifindex, sizeof(vm->ifindex));
	for (int ipv6 = 0; ipv6 <= 1; ipv6++) {
		if (!(ipv6 ? vm->check_ipv6 : vm->check_ipv4))
			continue;
		memset(&out[count], 0, sizeof(out[count]));
		out[count].set = ipv6 ? SET_VM6_INTERFACES : SET_VM4_INTERFACES;
		memcpy(out[count++].key, &vm->ifindex, sizeof(vm->ifindex));
	}
	for (size_t i = 0; i < vm->address_count; i++) {
		const struct prefix *prefix = &vm->addresses[i];
		bool ipv6 = prefix->family == SOURCE_FAMILY_IPV6;
		struct element *element = &out[count];
		size_t length = ipv6 ? 16 : 4;

		if ((prefix->family != SOURCE_FAMILY_IPV4 && !ipv6) || prefix->len > length * 8)
			continue;
		memset(element, 0, sizeof(*element));
		element->set = ipv6 ? SET_VM6_SOURCES : SET_VM4_SOURCES;
		memcpy(element->key, &ifindex, sizeof(ifindex));
		memcpy(element->key + 4, prefix->addr, length);
		mask_address(element->key + 4, length, prefix->len);
		memcpy(element->key_end, element->key, sizeof(element->key));
		/* The range's last address: the host bits all set. */
		for (unsigned bit = prefix->len; bit < length * 8; bit++)
			element->key_end[4 + bit / 8] |= (uint8_t)(0x80u >> (bit % 8));
		count++;
	}
	return count;
}

/*
 * Sorted, each key once; a range inside another of the same interface (an
 * operator's /32 within its /27) is merged into it: the kernel refuses
 * overlapping ranges.
 */
static size_t
vm_elements_merge(struct element *elements, size_t count)
{
	size_t kept = 0;

	count = elements_sort_unique(elements, count);
	for (size_t i = 0; i < count; i++) {
		struct element *last = kept > 0 ? &elements[kept - 1] : NULL;
		size_t length = set_key_length(elements[i].set);

		if (last != NULL && last->set == elements[i].set && sets[last->set].concat &&
		    memcmp(last->key, elements[i].key, 4) == 0 &&
		    memcmp(elements[i].key, last->key_end, length) <= 0) {
			if (memcmp(elements[i].key_end, last->key_end, length) > 0)
				memcpy(last->key_end, elements[i].key_end, length);
			continue;
		}
		elements[kept++] = elements[i];
	}
	return kept;
}

int
nft_set_vm_sources(struct nft *nft, const struct nft_vm_sources *vms, size_t count)
{
	struct element *elements, *old = nft->vm_elements;
	size_t total = 0, addresses = 0, old_count = nft->vm_element_count;
	struct prefix *held;
	struct range *ranges;
	int r;

	for (size_t i = 0; i < count; i++)
		addresses += vms[i].address_count;
	if (addresses > NFT_VM_SOURCES_MAX || count > NFT_VM_SOURCES_MAX) {
		log_warnx("inet %s: %zu VM sources, at most %u: the anti-spoofing sets stay as "
		          "they are",
		          nft->table, addresses, NFT_VM_SOURCES_MAX);
		return -E2BIG;
	}
	/* Per interface three, and per address one source and two held (start, end). */
	elements = calloc(3 * count + 3 * addresses + 1, sizeof(*elements));
	held = calloc(addresses + 1, sizeof(*held));
	ranges = calloc(addresses + 1, sizeof(*ranges));
	if (elements == NULL || held == NULL || ranges == NULL) {
		log_warn("inet %s: allocate %zu VM sources", nft->table, addresses);
		free(elements);
		free(held);
		free(ranges);
		return -ENOMEM;
	}
	addresses = 0;
	for (size_t i = 0; i < count; i++) {
		total += vm_source_elements(&vms[i], &elements[total]);
		for (size_t j = 0; j < vms[i].address_count; j++)
			held[addresses++] = vms[i].addresses[j];
	}
	total = vm_elements_merge(elements, total);
	total += interval_elements(held, addresses, SET_VM4_HELD, SET_VM6_HELD, ranges,
	                           &elements[total]);
	total = elements_sort_unique(elements, total);
	free(held);
	free(ranges);
	if (total == old_count &&
	    (total == 0 || memcmp(elements, old, total * sizeof(*elements)) == 0)) {
		free(elements);
		return 0;
	}
	nft->vm_elements = elements;
	nft->vm_element_count = total;
	batch_begin(nft);
	if ((r = batch_vm_sets(nft)) < 0 || (r = batch_commit(nft)) < 0) {
		nft->note_count = 0;
		nft->vm_elements = old;
		nft->vm_element_count = old_count;
		free(elements);
		return r;
	}
	free(old);
	return 0;
}

int
nft_open(struct nft **out, const struct nft_options *options)
{
	struct nft *nft;
	int r;

	*out = NULL;
	if ((r = options_check(options)) < 0)
		return r;
	if ((nft = calloc(1, sizeof(*nft))) == NULL ||
	    (nft->batch = malloc(BATCH_BUFFER_SIZE)) == NULL ||
	    (nft->receive = malloc(RECEIVE_BUFFER_SIZE)) == NULL ||
	    (nft->scratch_element = nftnl_set_elem_alloc()) == NULL ||
	    (nft->allowed = calloc(2 * ALWAYS_ALLOWED_MAX, sizeof(*nft->allowed))) == NULL) {
		log_warn("inet %s: allocate", options->table);
		nft_close(nft);
		return -ENOMEM;
	}
	snprintf(nft->table, sizeof(nft->table), "%s", options->table);
	nft->ipv6_prefix_len = options->ipv6_prefix_len;
	nft->max_bans_per_set = options->max_bans_per_set;
	web_ports_set(nft, options->web_ports, options->web_port_count);
	nft->seq = (uint32_t)time(NULL);
	nft->generation_changed = true; /* nothing is known yet */
	if ((r = socket_open(nft)) < 0) {
		nft_close(nft);
		return r;
	}
	nft->allowed_count =
	    elements_sort_unique(nft->allowed, allow_elements(options, nft->allowed));
	r = skeleton_write(nft, NULL);
	if (r == 0 && !options->refresh_by_delete)
		r = probe_timeout_update(nft, &nft->refresh_by_add);
	log_debug("inet %s: timeouts are refreshed by %s", nft->table,
	          nft->refresh_by_add ? "adding again" : "deleting and adding");
	if (r < 0) {
		nft_close(nft);
		return r;
	}
	*out = nft;
	return 0;
}

void
nft_close(struct nft *nft)
{
	if (nft == NULL)
		return;
	if (nft->socket != NULL)
		mnl_socket_close(nft->socket);
	if (nft->scratch_element != NULL)
		nftnl_set_elem_free(nft->scratch_element);
	for (size_t i = 0; i < CHAIN_COUNT; i++)
		free(nft->rules_written[i]);
	free(nft->allowed);
	free(nft->vm_elements);
	free(nft->receive);
	free(nft->batch);
	free(nft);
}

static int
generation_callback(const struct nlmsghdr *nlh, void *data)
{
	struct nftnl_gen *gen = nftnl_gen_alloc();
	uint32_t *out = data;

	if (gen == NULL || nftnl_gen_nlmsg_parse(nlh, gen) < 0 ||
	    !nftnl_gen_is_set(gen, NFTNL_GEN_ID)) {
		nftnl_gen_free(gen);
		return MNL_CB_ERROR;
	}
	*out = nftnl_gen_get_u32(gen, NFTNL_GEN_ID);
	nftnl_gen_free(gen);
	return MNL_CB_OK;
}

static int
generation_read(struct nft *nft, uint32_t *out)
{
	char request[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh =
	    nftnl_nlmsg_build_hdr(request, NFT_MSG_GETGEN, AF_UNSPEC, NLM_F_ACK, nft->seq++);

	return request_run(nft, nlh, generation_callback, out, NULL,
	                   "ask for the ruleset's generation");
}

int
nft_generation_changed(struct nft *nft)
{
	uint32_t now;
	int r, changed;

	if ((r = generation_read(nft, &now)) < 0)
		return r;
	changed = nft->generation_changed || now != nft->generation;
	nft->generation = now;
	nft->generation_changed = false;
	return changed;
}

int
nft_table_present(struct nft *nft)
{
	char request[MNL_SOCKET_BUFFER_SIZE];
	struct nftnl_table *table = nftnl_table_alloc();
	struct nlmsghdr *nlh;
	int r;

	if (table == NULL)
		fatal("nftnl_table_alloc");
	nftnl_table_set_str(table, NFTNL_TABLE_NAME, nft->table);
	nlh = nftnl_nlmsg_build_hdr(request, NFT_MSG_GETTABLE, NFPROTO_INET, NLM_F_ACK, nft->seq++);
	nftnl_table_nlmsg_build_payload(nlh, table);
	nftnl_table_free(table);
	r = request_run(nft, nlh, NULL, NULL, NULL, "ask for the table");
	if (r == -ENOENT)
		return 0;
	return r < 0 ? r : 1;
}

int
nft_destroy(struct nft *nft)
{
	batch_begin(nft);
	batch_table(nft, NFT_MSG_DELTABLE, 0);
	return batch_commit(nft);
}

int
ban_install(struct nft *nft, const struct source_key *source, enum scope scope, int64_t duration_ms)
{
	struct element element;
	int r;

	if (duration_ms <= 0) {
		log_warnx("inet %s: ban: duration %lld ms", nft->table, (long long)duration_ms);
		return -EINVAL;
	}
	if ((r = ban_to_element(nft, source, scope, duration_ms, &element)) < 0)
		return r;
	return elements_apply(nft, &element, 1, ELEMENT_PUT);
}

int
ban_remove(struct nft *nft, const struct source_key *source, enum scope scope)
{
	struct element element;
	int r;

	if ((r = ban_to_element(nft, source, scope, 0, &element)) < 0)
		return r;
	return elements_apply(nft, &element, 1, ELEMENT_DELETE);
}

/* Copies bans into sorted, unique elements; those with no time left are left out. */
static int
bans_to_elements(struct nft *nft, const struct nft_ban *bans, size_t count, struct element **out,
                 size_t *out_count)
{
	struct element *elements;
	size_t kept = 0;
	int r;

	*out = NULL;
	*out_count = 0;
	if (count > ELEMENTS_MAX) {
		log_warnx("inet %s: %zu bans, at most %u at once", nft->table, count, ELEMENTS_MAX);
		return -E2BIG;
	}
	if (count == 0)
		return 0;
	if ((elements = calloc(count, sizeof(*elements))) == NULL) {
		log_warn("inet %s: %zu bans", nft->table, count);
		return -ENOMEM;
	}
	for (size_t i = 0; i < count; i++) {
		if (bans[i].remaining_ms <= 0)
			continue;
		r = ban_to_element(nft, &bans[i].source, bans[i].scope, bans[i].remaining_ms,
		                   &elements[kept]);
		if (r < 0) {
			free(elements);
			return r;
		}
		elements[kept++].tag = bans[i].tag;
	}
	*out = elements;
	*out_count = elements_sort_unique(elements, kept);
	return 0;
}

int
ban_install_many(struct nft *nft, const struct nft_ban *bans, size_t count)
{
	struct element *elements;
	size_t element_count;
	int r;

	if ((r = bans_to_elements(nft, bans, count, &elements, &element_count)) < 0)
		return r;
	nft->since_ms = monotonic_ms();
	r = elements_apply(nft, elements, element_count, ELEMENT_PUT);
	nft->since_ms = 0;
	free(elements);
	return r;
}

static bool
timers_close(int64_t a, int64_t b)
{
	return (a > b ? a - b : b - a) <= RECONCILE_SLACK_MS;
}

static bool
same_tag(const struct nft_ban_tag *a, const struct nft_ban_tag *b)
{
	return a->present == b->present &&
	       (!a->present || (a->category == b->category && a->level == b->level &&
	                        a->start_ms == b->start_ms && a->duration_ms == b->duration_ms));
}

int
ban_reconcile(struct nft *nft, const struct nft_ban *wanted, size_t count, struct nft_ban **tagged,
              size_t *tagged_count, struct nft_reconcile_changes *changes)
{
	struct nft_reconcile_changes found = {0};
	struct element *want = NULL, *puts = NULL, *deletes = NULL;
	size_t want_count, put_count = 0, delete_count = 0, kept_count = 0, i = 0, j = 0;
	struct nft_ban *kept = NULL;
	struct element_list current;
	int r;

	if (tagged != NULL) {
		*tagged = NULL;
		*tagged_count = 0;
	}
	if (changes != NULL)
		memset(changes, 0, sizeof(*changes));

	if ((r = bans_to_elements(nft, wanted, count, &want, &want_count)) < 0)
		return r;
	/* The caller's remaining times were true a moment ago: from here on, the kernel's are too.
	 */
	nft->since_ms = monotonic_ms();
	if ((r = ban_sets_dump(nft, &current)) < 0) {
		nft->since_ms = 0;
		free(want);
		return r;
	}
	if ((want_count > 0 && (puts = calloc(want_count, sizeof(*puts))) == NULL) ||
	    (current.count > 0 && (deletes = calloc(current.count, sizeof(*deletes))) == NULL) ||
	    (current.count > 0 && tagged != NULL &&
	     (kept = calloc(current.count, sizeof(*kept))) == NULL)) {
		log_warn("inet %s: reconcile", nft->table);
		r = -ENOMEM;
		goto out;
	}
	while (i < want_count || j < current.count) {
		int order;

		if (i == want_count)
			order = 1;
		else if (j == current.count)
			order = -1;
		else
			order = element_compare(&want[i], &current.elements[j]);
		if (order < 0) {
			puts[put_count++] = want[i++];
			found.restored++;
		} else if (order > 0 && tagged != NULL && current.elements[j].tag.present) {
			element_to_ban(nft, &current.elements[j++], &kept[kept_count++]);
		} else if (order > 0) {
			deletes[delete_count++] = current.elements[j++];
			found.foreign++;
		} else {
			/*
			 * A timeout the store did not give (none at all, or
			 * another program's) is set back to the store's; a new
			 * tag is written too: an element from before tags gets one.
			 */
			if (!timers_close(want[i].timeout_ms, current.elements[j].timeout_ms)) {
				puts[put_count++] = want[i];
				found.retimed++;
			} else if (!same_tag(&want[i].tag, &current.elements[j].tag)) {
				puts[put_count++] = want[i];
				found.retagged++;
			}
			i++;
			j++;
		}
	}
	batch_begin(nft);
	if ((r = batch_element_op(nft, deletes, delete_count, ELEMENT_DELETE)) < 0 ||
	    (r = batch_element_op(nft, puts, put_count, ELEMENT_PUT)) < 0) {
		nft->note_count = 0;
		goto out;
	}
	r = batch_commit(nft);
	if (r == 0 && (put_count > 0 || delete_count > 0))
		log_info("inet %s: reconciled: %zu added or refreshed, %zu removed", nft->table,
		         put_count, delete_count);
	if (r == 0 && changes != NULL)
		*changes = found;
	if (r == 0 && tagged != NULL) {
		*tagged = kept;
		*tagged_count = kept_count;
		kept = NULL;
	}
out:
	nft->since_ms = 0;
	free(kept);
	free(want);
	free(puts);
	free(deletes);
	free(current.elements);
	return r;
}

int
ban_list(struct nft *nft, int (*fn)(const struct nft_ban *ban, void *arg), void *arg)
{
	struct element_list list;
	struct nft_ban ban;
	int r = 0;

	/* The whole listing is read first, so fn may call back into this module. */
	if ((r = ban_sets_dump(nft, &list)) < 0)
		return r;
	for (size_t i = 0; i < list.count && r == 0; i++) {
		element_to_ban(nft, &list.elements[i], &ban);
		r = fn(&ban, arg);
	}
	free(list.elements);
	return r;
}

/* Lookups sent in one write: their replies fit the socket's receive buffer many times over. */
#define LOOKUP_CHUNK 256

/* One lookup's request: a get of one element, answered by it and an ack, or by ENOENT. */
static size_t
lookup_message(struct nft *nft, char *buf, const struct element *element, uint32_t seq)
{
	struct nftnl_set *set = nftnl_set_alloc();
	struct nftnl_set_elem *asked = nftnl_set_elem_alloc();
	struct nlmsghdr *nlh;

	if (set == NULL || asked == NULL)
		fatal("nftnl_set_alloc");
	nftnl_set_set_str(set, NFTNL_SET_TABLE, nft->table);
	nftnl_set_set_str(set, NFTNL_SET_NAME, sets[element->set].name);
	nftnl_set_elem_set(asked, NFTNL_SET_ELEM_KEY, element->key,
	                   (uint32_t)set_key_length(element->set));
	nftnl_set_elem_add(set, asked);
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, NFPROTO_INET, NLM_F_ACK, seq);
	nftnl_set_elems_nlmsg_build_payload(nlh, set);
	nftnl_set_free(set);
	return NLMSG_ALIGN(nlh->nlmsg_len);
}

/* The replies to count lookups sent with sequence numbers from first_seq on. */
static int
lookup_replies(struct nft *nft, uint32_t first_seq, const struct element *asked,
               struct nft_ban *bans, int *found, size_t count)
{
	size_t answered = 0;
	int error = 0;

	while (answered < count) {
		ssize_t length = recv(mnl_socket_get_fd(nft->socket), nft->receive,
		                      RECEIVE_BUFFER_SIZE, MSG_DONTWAIT);
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)nft->receive;
		int left = (int)length;

		if (length < 0 && errno == EINTR)
			continue;
		if (length <= 0)
			return length < 0 && errno != EAGAIN ? -errno : -EPROTO;
		for (; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
			size_t i = nlh->nlmsg_seq - first_seq;

			if (nlh->nlmsg_seq < first_seq || i >= count)
				continue; /* not ours: an answer to an earlier request */
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *ack = mnl_nlmsg_get_payload(nlh);

				answered++;
				if (ack->error != 0 && ack->error != -ENOENT && error == 0)
					error = ack->error;
			} else if (NFNL_MSG_TYPE(nlh->nlmsg_type) == NFT_MSG_NEWSETELEM) {
				struct element_list list = {.set = asked[i].set};

				if (dump_callback(nlh, &list) == MNL_CB_OK && list.count == 1) {
					element_to_ban(nft, &list.elements[0], &bans[i]);
					found[i] = 1;
				}
				free(list.elements);
			}
		}
	}
	return error;
}

int
ban_lookup_many(struct nft *nft, struct nft_ban *bans, int *found, size_t count)
{
	struct element asked[LOOKUP_CHUNK];
	char *request = malloc((size_t)LOOKUP_CHUNK * MNL_SOCKET_BUFFER_SIZE);
	int r = 0;

	if (request == NULL)
		return -ENOMEM;
	for (size_t done = 0; done < count && r == 0; done += LOOKUP_CHUNK) {
		size_t n = count - done < LOOKUP_CHUNK ? count - done : LOOKUP_CHUNK, length = 0;
		uint32_t first_seq = nft->seq;

		/* Sequence numbers tell the replies apart: none may wrap inside a chunk. */
		if (first_seq > UINT32_MAX - LOOKUP_CHUNK)
			first_seq = nft->seq = 1;
		for (size_t i = 0; i < n && r == 0; i++) {
			found[done + i] = 0;
			if ((r = ban_to_element(nft, &bans[done + i].source, bans[done + i].scope,
			                        0, &asked[i])) == 0)
				length +=
				    lookup_message(nft, request + length, &asked[i], nft->seq++);
		}
		if (r == 0 && mnl_socket_sendto(nft->socket, request, length) < 0)
			r = -errno;
		if (r == 0)
			r = lookup_replies(nft, first_seq, asked, bans + done, found + done, n);
	}
	free(request);
	if (r < 0)
		log_warnx("inet %s: look up %zu elements: %s", nft->table, count, strerror(-r));
	return r;
}

int
ban_lookup(struct nft *nft, const struct source_key *source, enum scope scope, struct nft_ban *out)
{
	int found = 0, r;

	out->source = *source;
	out->scope = scope;
	r = ban_lookup_many(nft, out, &found, 1);
	return r < 0 ? r : found;
}

int
ban_list_unwanted(struct nft *nft, const struct nft_ban *wanted, size_t count,
                  int (*fn)(const struct nft_ban *ban, void *arg), void *arg)
{
	struct element *want = NULL;
	struct element_list current;
	struct nft_ban ban;
	size_t want_count;
	int r;

	if ((r = bans_to_elements(nft, wanted, count, &want, &want_count)) < 0)
		return r;
	if ((r = ban_sets_dump(nft, &current)) < 0) {
		free(want);
		return r;
	}
	for (size_t i = 0; i < current.count && r == 0; i++) {
		if (want_count > 0 && bsearch(&current.elements[i], want, want_count, sizeof(*want),
		                              element_compare) != NULL)
			continue;
		element_to_ban(nft, &current.elements[i], &ban);
		r = fn(&ban, arg);
	}
	free(want);
	free(current.elements);
	return r;
}
