/*
 * The policy file (libconfig syntax), parsed and validated. Errors name the
 * file and line. The result is plain data; nothing here acts on it.
 */
#ifndef CONFIG_H
#define CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "ban.h"
#include "customer.h"
#include "ladder.h"
#include "source.h"
#include "vm.h"

#define CONFIG_DEFAULT_PATH     "/etc/abuseguard/abuseguard.conf"
#define CONFIG_MAX_INTERFACES   32
#define CONFIG_MAX_PATTERN      64
#define CONFIG_MAX_PREFIXES     256
#define CONFIG_MAX_VMS          256 /* static hosts in the policy; the orchestrator has abusectl */
#define CONFIG_MAX_VM_ADDRESSES 16
#define CONFIG_MAX_HTTP_PORTS   16
#define CONFIG_MAX_CUSTOMERS    256 /* in the policy; more come with the VMs' customer labels */
#define CONFIG_EXIT_INVALID     78  /* EX_CONFIG */

/* A static host: an interface and the addresses that belong to it. */
struct config_vm {
	char interface[IF_NAMESIZE];
	char name[VM_LABEL_MAX];     /* "" if not given */
	char customer[VM_LABEL_MAX]; /* "" if not given */
	struct prefix addresses[CONFIG_MAX_VM_ADDRESSES];
	unsigned address_count;
};

enum mode {
	MODE_ENFORCE = 0, /* detect, ban and ticket */
	MODE_OBSERVE = 1, /* detect and ticket, never ban */
};

enum xdp_attach_mode {
	XDP_ATTACH_AUTO = 0, /* native where the driver has it, else generic */
	XDP_ATTACH_NATIVE,
	XDP_ATTACH_GENERIC,
};

/* The policy's spam section, all the spam detector reads. */
enum spoof_action {
	SPOOF_REPORT = 0, /* count, report, and apply the ladder to the VM */
	SPOOF_DROP = 1,   /* the same, and drop forged packets at the interface (nftables) */
};

struct spoofing_config {
	uint32_t packets; /* forged packets per window and interface that make a finding; 0: none */
	enum spoof_action action;
	enum scope scope; /* what a ban of the forging VM's address drops */
};

/* Packets shaped to slip past filters (daemon/detect_evasion.c). */
struct evasion_config {
	uint32_t tiny_fragments; /* per source and spam.window that make a finding; 0: off */
	enum scope scope;
};

struct spam_config {
	int enabled;
	int64_t window_ms;
	uint32_t smtp_attempts;     /* SYNs to 25/465/587 per window */
	uint32_t smtp_destinations; /* distinct destinations per window */
	enum scope scope;
};

#define CONFIG_PORT_WORDS 1024 /* 65536 ports, a bit each */

/* The policy's scan section, all the scan detector and the BPF accounting read. */
struct scan_config {
	int enabled;
	int64_t window_ms;
	int64_t timeout_ms;     /* a first contact with no answer by then failed */
	int64_t return_path_ms; /* no reply seen on the interface this long: no verdicts */
	uint32_t sequential;    /* net failed first contacts (TRW); 0 = off */
	uint32_t hosts_per_port;
	uint32_t ports_per_host;
	uint32_t arp_hosts; /* net unanswered ARP requests of a VM in the window; 0 = off */
	enum scope scope;
	uint64_t ignored_ports[CONFIG_PORT_WORDS]; /* destination ports never counted */
	unsigned ignored_port_count;
};

/* Crawlers that break robots.txt (daemon/detect_crawler.c). */
struct crawler_config {
	int enabled;
	int64_t window_ms;
	uint32_t disallowed_requests; /* to one site within the window */
	enum scope scope;
	uint16_t http_ports[CONFIG_MAX_HTTP_PORTS]; /* where HTTP requests are read */
	unsigned http_port_count;
	int fetch_robots;              /* fetch a site's robots.txt when the VM did not */
	uint32_t max_sources;          /* sources with violations tracked */
	uint32_t max_sites_per_source; /* sites tracked for each */
	uint32_t max_sites;            /* sites whose robots.txt is kept */
	uint32_t fetch_queue;          /* sites waiting for a fetch */
	int64_t fetch_timeout_ms;      /* one fetch, redirects included */
	uint32_t held_requests;        /* per site, while its robots.txt is awaited */
	struct prefix fetch_deny[CONFIG_MAX_PREFIXES]; /* never fetched from */
	unsigned fetch_deny_count;
};

/* The ticket lifecycle's clock (daemon/ticket.c). */
struct tickets_config {
	int64_t deadline_ms;        /* the customer must act within this of the notice */
	int64_t update_interval_ms; /* at most one update per this while abuse goes on */
	int64_t close_after_ms;     /* a ticket this quiet closes itself */
};

#define CONFIG_MAX_COMMAND 512

/* Where notices go (daemon/outbox.c); each backend is optional: "" is off. */
struct notify_config {
	char from[256]; /* "abuse@provider.example" or "Name <address>" */
	char smtp[64];  /* the relay notices are submitted to, "127.0.0.1:25"; "" is off */
	char mail_command[CONFIG_MAX_COMMAND]; /* the RFC 5322 message on stdin; replaces smtp */
	char exec[CONFIG_MAX_COMMAND];         /* the ticket JSON on stdin */
	char event_log[PATH_MAX];              /* one JSON line per ticket event */
	int64_t timeout_ms;                    /* a mail command or hook running longer is killed */
	int64_t retry_ms;     /* the first retry after a failure; doubles each time */
	int64_t retry_max_ms; /* the longest wait between attempts */
};

struct config {
	char path[PATH_MAX];
	enum mode mode;
	char interfaces[CONFIG_MAX_INTERFACES][CONFIG_MAX_PATTERN]; /* glob patterns */
	unsigned interface_count;
	enum xdp_attach_mode xdp_mode;
	char state_dir[PATH_MAX];
	char control_socket[PATH_MAX];
	char control_group[64]; /* may read and change state besides root */
	char nft_table[64];     /* inet table owned by the daemon */
	unsigned ipv6_prefix_len;

	struct {
		uint32_t max_sources;       /* XDP per-source LRU entries */
		uint32_t max_smtp_pairs;    /* XDP (source, destination) LRU entries */
		uint32_t ring_buffer_bytes; /* power of two, >= 4096 */
		uint32_t max_interfaces;    /* VM-facing interfaces attached at once */
		uint32_t max_bans;          /* active bans per address family; sizes the sets */
		uint32_t control_clients;
		uint32_t control_line_bytes;
		uint32_t bans_per_minute;   /* safety valve: past it, alert only */
		int64_t control_idle_ms;    /* a client silent this long is closed */
		uint32_t store_pending;     /* decisions queued while the store cannot write */
		uint32_t max_scan_contacts; /* pending and answered first contacts tracked */
		uint32_t scan_pending_per_interface; /* probes waiting for an outcome, per VM */
		uint32_t max_vm_addresses; /* addresses an interface holds, configured or learned */
		uint32_t max_host_addresses; /* the hypervisor's own addresses known at once */
		uint32_t learn_frames; /* ARP/NDP/DHCP frames an interface hands up per window */
		uint32_t interface_sources; /* new sources an interface may add per window */
		uint32_t outbox;     /* deliveries waiting at once; past it a notice is refused */
		uint32_t deliveries; /* mail commands and hooks running at once */
		uint32_t delivery_output;       /* bytes of a child's output kept for the log */
		uint32_t ticket_evidence_files; /* files kept per ticket */
		uint32_t ticket_evidence_bytes; /* bytes kept per ticket, all files */
		uint32_t runtime_allowlist;     /* entries of abusectl allow held at once */
		uint32_t control_event_queue; /* bytes an events --follow client may leave unread */
		uint32_t wire_flows;          /* TCP connections libpcap follows at once */
		uint32_t wire_buffer_bytes;   /* each interface's kernel capture buffer */
		uint32_t evidence_packets;    /* recent packets kept per interface for tickets */
		uint32_t evidence_bytes;      /* and their bytes */
		uint32_t smtp_transcript_sources; /* sources whose SMTP lines wait for a ticket */
		uint32_t smtp_transcript_lines;   /* the latest lines kept of each */
	} limits;

	struct {
		int64_t retention_ms;     /* history older than this is pruned */
		int64_t check_timeout_ms; /* the integrity check at start stops after this */
	} store;

	struct {
		char file[PATH_MAX]; /* "" off; else rewritten every interval, for node_exporter */
		int64_t interval_ms;
	} metrics;

	struct spam_config spam;
	struct scan_config scan;
	struct spoofing_config spoofing;
	struct evasion_config evasion;
	struct crawler_config crawler;
	struct notify_config notify;

	struct ladder ladder;

	struct prefix allowlist[CONFIG_MAX_PREFIXES]; /* sources never banned */
	unsigned allowlist_count;
	struct prefix always_allowed[CONFIG_MAX_PREFIXES]; /* destinations scope "all" keeps */
	unsigned always_allowed_count;

	struct config_vm vms[CONFIG_MAX_VMS];
	unsigned vm_count;

	struct customer customers[CONFIG_MAX_CUSTOMERS]; /* who holds which prefixes */
	unsigned customer_count;
	struct tickets_config tickets;
};

/* The built-in defaults, equal to policy/abuseguard.conf. */
void config_defaults(struct config *config);
/*
 * Reads and validates path into *config (defaults for what it leaves out).
 * On error, returns -EINVAL (or -errno if the file cannot be read), writes
 * "file:line: message" into err and leaves *config untouched.
 */
int config_load(const char *path, struct config *config, char *err, size_t errlen);
/* 1 if port is in the scan section's ignored ports. */
int scan_port_ignored(const struct scan_config *scan, unsigned port);
/* Parses "90s", "15m", "1h", "7d", "250ms" into milliseconds. 0 or -EINVAL. */
int duration_parse(const char *text, int64_t *out_ms);
/* Formats milliseconds as the largest whole unit: "1h", "7d", "90s". */
const char *duration_format(int64_t ms, char *buf, size_t len);

#endif
