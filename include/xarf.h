/*
 * X-ARF v4 (xarf.org): the machine-readable abuse report a notice carries,
 * one JSON object whose category and type follow the abuse category
 * (messaging/spam, connection/port_scan, connection/scraping). The plain-text
 * log goes in as an evidence item, base64 with its SHA-256. Pure.
 */
#ifndef XARF_H
#define XARF_H

#include <jansson.h>

#include "report.h"

#define XARF_VERSION "4.2.0"

/*
 * The report as X-ARF. -ENOTSUP for a category X-ARF has no type for
 * (spoofing), -ENOMEM; *out is the caller's to json_decref.
 */
int xarf_report(const struct abuse_report *report, json_t **out);

#endif
