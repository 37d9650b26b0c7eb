package gateway

// How a query's options combine (docs/API.md, "Combining options"): result
// options (max_rows, max_bytes, shape, format or Accept), dry_run, a
// transaction (X-Transaction-Id) and an Idempotency-Key. Every pair
// combines but these, which mean nothing together:
//
//   - dry_run with CSV or Markdown: a dry run answers "dry_run": true and
//     its changes, which those formats have no place for (JSON and NDJSON
//     carry them);
//   - an Idempotency-Key in a transaction: the key's record would be
//     written in the transaction, which may yet roll back or expire with
//     it; retry the transaction instead (a dry run, which records
//     nothing, takes no key: the header is ignored there, as on a read);
//   - an Idempotency-Key with result options: the recorded answer is the
//     default JSON one, replayed byte for byte.
func (o queryOptions) combine(inTx, idempotent bool) error {
	shaped := o.result != (resultOptions{})
	switch {
	case o.dryRun:
		if f := o.result.format; f == formatCSV || f == formatMarkdown {
			return invalidValue("A dry run answers \"dry_run\": true and its changes, which %s has no place for: use the format \"json\" or \"ndjson\".", formatLabels[f])
		}
	case inTx && idempotent:
		return invalidValue("An Idempotency-Key is not taken inside a transaction (X-Transaction-Id): its record would be the transaction's, which may yet roll back. Retry the transaction, or send the key outside one.")
	case idempotent && shaped:
		return invalidValue("An Idempotency-Key request answers the default JSON shape: leave out max_rows, max_bytes, shape and format (or the Accept header), or the Idempotency-Key.")
	}
	return nil
}

// formatLabels name the formats in messages.
var formatLabels = [...]string{formatJSON: "JSON", formatNDJSON: "NDJSON", formatCSV: "CSV", formatMarkdown: "Markdown"}
