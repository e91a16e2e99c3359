/* SPDX-License-Identifier: Apache-2.0 */
/*
 * banned.h — libc calls that are easy to misuse, made a compile error.
 *
 * Included last by common.h, after the system headers, so that any later
 * call of these names fails to build (the git approach). Use the bounded,
 * reentrant replacements named beside each.
 */
#ifndef CPM_BANNED_H
#define CPM_BANNED_H

#define CPM__BANNED(func) sorry_##func##_is_banned_in_opencpm

#undef strcpy
#define strcpy(x, y) CPM__BANNED(strcpy) /* use cpm_strlcpy */
#undef strcat
#define strcat(x, y) CPM__BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) CPM__BANNED(strncpy)
#undef sprintf
#define sprintf(...) CPM__BANNED(sprintf) /* use snprintf */
#undef vsprintf
#define vsprintf(...) CPM__BANNED(vsprintf)
#undef atoi
#define atoi(x) CPM__BANNED(atoi) /* use cpm_parse_int64 */
#undef atol
#define atol(x) CPM__BANNED(atol)
#undef strtok
#define strtok(x, y) CPM__BANNED(strtok)
#undef gmtime
#define gmtime(x) CPM__BANNED(gmtime) /* use cpm_time_format */
#undef localtime
#define localtime(x) CPM__BANNED(localtime)
#undef ctime
#define ctime(x) CPM__BANNED(ctime)
#undef asctime
#define asctime(x) CPM__BANNED(asctime)
#undef gets
#define gets(x) CPM__BANNED(gets)

#endif /* CPM_BANNED_H */
