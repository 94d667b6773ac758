// Package transfer moves comments in and out of commentd: import from a
// Disqus export, a WordPress WXR file or commentd's own JSON lines, and
// export as JSON lines.
//
// An import streams its file (an encoding/xml Decoder token by token, or a
// line at a time) and writes through Writer in batches of BatchSize, one
// unordered insert each: never one insert per comment. Ids are derived from
// the source's ids (DeriveID), so a re-run, or a run resumed after a crash,
// stores nothing twice: a comment already there counts as such. Parents map
// through the same derivation, so a reply needs no lookup of its parent,
// earlier or later in the file.
//
// Memory is bounded by a batch, the set of posts touched, the Disqus
// threads (post ids by thread id), and for Disqus the deleted comments and
// the ids of the parents replied to (8 bytes each), which decide which
// deleted comments stay as tombstones.
package transfer
