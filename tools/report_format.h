/* report_format.h — the periodic report's Markdown and CSV forms.
 *
 * canh-report builds the report as one JSON object (its --format json);
 * these write the same figures as Markdown, headings and tables in
 * Vietnamese and English, and as CSV rows "section,key,count" (RFC 4180
 * quoting, CRLF), so a spreadsheet and a reader see one set of numbers.
 */
#ifndef CANH_TOOLS_REPORT_FORMAT_H
#define CANH_TOOLS_REPORT_FORMAT_H

#include <jansson.h>
#include <stdio.h>

void report_write_md(FILE *out, const json_t *report);
void report_write_csv(FILE *out, const json_t *report);

#endif
