/* The settings a reload keeps as they were, one table. */
#include <stddef.h>
#include <string.h>

#include "reload.h"

#define FIELD(member) offsetof(struct config, member), sizeof(((struct config *)0)->member)

static const struct restart_only {
	const char *setting; /* as the policy file spells it */
	size_t offset, size;
	/* Lists: the element count, compared and copied with the elements. */
	size_t count_offset, count_size;
} restart_only[] = {
    /* Attachment is decided when an interface appears. */
    {"interfaces", FIELD(interfaces), FIELD(interface_count)},
    {"xdp_mode", FIELD(xdp_mode), 0, 0},
    /* Files and kernel objects the daemon opened by these names. */
    {"state_dir", FIELD(state_dir), 0, 0},
    {"control_socket", FIELD(control_socket), 0, 0},
    {"control_group", FIELD(control_group), 0, 0},
    {"nft_table", FIELD(nft_table), 0, 0},
    /* The XDP maps' keys and the kernel ban sets' elements. */
    {"ipv6_prefix", FIELD(ipv6_prefix_len), 0, 0},
    /* Sizes of maps, sets and buffers allocated at start. */
    {"limits.max_sources", FIELD(limits.max_sources), 0, 0},
    {"limits.max_smtp_pairs", FIELD(limits.max_smtp_pairs), 0, 0},
    {"limits.max_scan_contacts", FIELD(limits.max_scan_contacts), 0, 0},
    {"limits.scan_pending_per_interface", FIELD(limits.scan_pending_per_interface), 0, 0},
    {"limits.ring_buffer_bytes", FIELD(limits.ring_buffer_bytes), 0, 0},
    {"limits.max_interfaces", FIELD(limits.max_interfaces), 0, 0},
    {"limits.max_bans", FIELD(limits.max_bans), 0, 0},
    {"limits.control_clients", FIELD(limits.control_clients), 0, 0},
    {"limits.control_line_bytes", FIELD(limits.control_line_bytes), 0, 0},
    {"limits.bans_per_minute", FIELD(limits.bans_per_minute), 0, 0},
    {"limits.control_idle", FIELD(limits.control_idle_ms), 0, 0},
    {"limits.store_pending", FIELD(limits.store_pending), 0, 0},
    {"limits.max_vm_addresses", FIELD(limits.max_vm_addresses), 0, 0},
    {"limits.max_host_addresses", FIELD(limits.max_host_addresses), 0, 0},
    {"limits.runtime_allowlist", FIELD(limits.runtime_allowlist), 0, 0},
    {"limits.control_event_queue", FIELD(limits.control_event_queue), 0, 0},
    {"limits.wire_flows", FIELD(limits.wire_flows), 0, 0},
    {"limits.wire_buffer_bytes", FIELD(limits.wire_buffer_bytes), 0, 0},
    {"limits.evidence_packets", FIELD(limits.evidence_packets), 0, 0},
    {"limits.evidence_bytes", FIELD(limits.evidence_bytes), 0, 0},
    {"limits.smtp_transcript_sources", FIELD(limits.smtp_transcript_sources), 0, 0},
    {"limits.smtp_transcript_lines", FIELD(limits.smtp_transcript_lines), 0, 0},
    /* The crawler path's tables, allocated at start; the rest of crawler is live. */
    {"crawler.max_sources", FIELD(crawler.max_sources), 0, 0},
    {"crawler.max_sites_per_source", FIELD(crawler.max_sites_per_source), 0, 0},
    {"crawler.max_sites", FIELD(crawler.max_sites), 0, 0},
    {"crawler.held_requests", FIELD(crawler.held_requests), 0, 0},
    /* Written into the ruleset when the table is made. */
    {"spoofing.action", FIELD(spoofing.action), 0, 0},
    /* Read into the VM registry at start, with the store's. */
    {"vms", FIELD(vms), FIELD(vm_count)},
    /* Used once, when the store is opened. */
    {"store.check_timeout", FIELD(store.check_timeout_ms), 0, 0},
    /* Written into the ruleset's chains when the table is made. */
    {"always_allow", FIELD(always_allowed), FIELD(always_allowed_count)},
};

static int
differs(const struct config *a, const struct config *b, size_t offset, size_t size)
{
	return size > 0 && memcmp((const char *)a + offset, (const char *)b + offset, size) != 0;
}

static void
copy(struct config *to, const struct config *from, size_t offset, size_t size)
{
	memcpy((char *)to + offset, (const char *)from + offset, size);
}

unsigned
reload_keep_restart_only(struct config *next, const struct config *running, reload_kept_fn kept,
                         void *arg)
{
	unsigned changed = 0;

	for (size_t i = 0; i < sizeof(restart_only) / sizeof(restart_only[0]); i++) {
		const struct restart_only *field = &restart_only[i];

		if (differs(next, running, field->offset, field->size) ||
		    differs(next, running, field->count_offset, field->count_size)) {
			changed++;
			if (kept != NULL)
				kept(arg, field->setting);
		}
		copy(next, running, field->offset, field->size);
		if (field->count_size > 0)
			copy(next, running, field->count_offset, field->count_size);
	}
	return changed;
}
