// Package spl parses and evaluates the subset of SLS's SPL (Structured
// Process Language) that rule-based consumption runs while a consumer
// pulls: a statement such as
//
//   - | where status = '500' and cast(bytes as bigint) > 1024 | project time_local, uri, status
//
// filters and shapes each log before it is sent. The SLS emulator serves
// pulls with it, and slspipe uses it to check a source's query locally (with
// the position of a problem) and to apply it to sample records.
//
// # Subset
//
// Instructions: where, extend, project, project-away, project-rename,
// parse-regexp, parse-json, parse-csv. Expressions are SQL: literals,
// fields (bare names, or "double-quoted" when they hold other characters),
// = <> != < <= > >=, and / or / not with three-valued logic, is [not] null,
// [not] between, [not] in, [not] like (with escape), + - * / %, ||,
// cast / try_cast to varchar, bigint, double and boolean, case, and the
// functions listed by [Functions].
//
// # Notes
//
//   - Every log field is varchar. A comparison or arithmetic between a
//     varchar and a number is a type error, as in SLS's SQL: cast the
//     field (cast(status as bigint) >= 500) or compare strings
//     (status >= '500', byte-wise). A field extend assigns keeps its
//     expression's type for the instructions that follow
//     (extend n = cast(bytes as bigint) | where n > 1024); the log carries
//     it as text.
//   - A missing field is null. A where whose condition is null drops the
//     row; extend with a null result removes the field.
//   - __time__ and __time_ns_part__ are bigint, extend may set them, the
//     project instructions keep them and the parse instructions never
//     write them. __topic__, __source__ and "__tag__:<key>" read the log
//     group's attributes and cannot be written.
//   - A row the statement fails on (cast('abc' as bigint), a division by
//     zero) is dropped and reported as a [RowError]; the service counts
//     such rows in x-log-failedlines. try_cast gives null instead.
package spl
