package gateway

import (
	"fmt"
)

// Result options on the batch route (docs/API.md, batch, "Result
// options"): max_rows, max_bytes and shape for the whole batch (top
// level: every statement's default) and per statement (in the statement's
// object, over the default). Each applies to its statement's own result:
// max_bytes bounds that result object. A batch answers JSON: "format" may
// only say "json", at the top level.

// isResultOption tells whether key is a result option's field.
func isResultOption(key string) bool {
	switch key {
	case "max_rows", "max_bytes", "shape", "format":
		return true
	}
	return false
}

// batchOptions are a batch body's result options as given.
type batchOptions struct {
	def resultOptions
	set bool        // any option, top level or per statement
	own [][]jmember // by statement: its own options, applied over def
}

// decode reads the options of the batch body v (an object): the top
// level's, and each statement's; the rest of the body is decoded
// elsewhere, so a statements member that is not an array of objects is
// left to that error.
func (bo *batchOptions) decode(v jvalue) error {
	for _, m := range v.obj {
		if !isResultOption(m.key) {
			continue
		}
		bo.set = true
		if _, err := bo.def.set(m.key, m.key, m.val, false); err != nil {
			return err
		}
		if bo.def.format != formatJSON {
			return invalidValue("A batch answers JSON: field \"format\" may only be \"json\".")
		}
	}
	for _, m := range v.obj {
		if m.key != "statements" || m.val.kind != jArray {
			continue
		}
		bo.own = make([][]jmember, len(m.val.arr))
		for i, el := range m.val.arr {
			if el.kind != jObject {
				continue
			}
			for _, f := range el.obj {
				if !isResultOption(f.key) {
					continue
				}
				if f.key == "format" {
					return invalidValue("statements[%d]: a batch answers JSON; \"format\" is not a statement's option (max_rows, max_bytes and shape are).", i)
				}
				var scratch resultOptions
				if _, err := scratch.set(f.key, f.key, f.val, false); err != nil {
					if ae, ok := err.(*apiError); ok {
						c := *ae
						c.detail = fmt.Sprintf("statements[%d]: %s", i, ae.detail)
						return &c
					}
					return err
				}
				bo.set = true
				bo.own[i] = append(bo.own[i], f)
			}
		}
	}
	return nil
}

// each is every statement's options, the default with its own over it;
// nil when the body gave none.
func (bo *batchOptions) each(n int) []resultOptions {
	if !bo.set {
		return nil
	}
	out := make([]resultOptions, n)
	for i := range out {
		out[i] = bo.def
		if i < len(bo.own) {
			for _, f := range bo.own[i] {
				_, _ = out[i].set(f.key, f.key, f.val, false) // checked by decode
			}
		}
	}
	return out
}
