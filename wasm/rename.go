package wasm

import "strings"

// renamedTo is the new name an ALTER TABLE … RENAME TO statement gives its
// table ("" and false for any other statement, a column's rename among
// them). The authorizer is told only the table altered, not its new name,
// so the sandbox reads it from the text: SQLite has prepared the statement
// already, so the text is known to be one valid ALTER TABLE.
func renamedTo(sql string) (string, bool) {
	toks := sqlTokens(sql, 8)
	// ALTER TABLE [schema .] table RENAME TO name
	if len(toks) < 6 || !strings.EqualFold(toks[0], "ALTER") || !strings.EqualFold(toks[1], "TABLE") {
		return "", false
	}
	i := 3
	if toks[i] == "." {
		i += 2
	}
	if i+2 >= len(toks) || !strings.EqualFold(toks[i], "RENAME") || !strings.EqualFold(toks[i+1], "TO") {
		return "", false
	}
	return unquoteIdent(toks[i+2]), true
}

// sqlTokens splits the start of sql into at most n tokens: words, quoted
// names and strings (quotes kept), and single punctuation bytes; spaces
// and comments are skipped.
func sqlTokens(sql string, n int) []string {
	var out []string
	i := 0
	for i < len(sql) && len(out) < n {
		c := sql[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			i++
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				return out
			}
			i += j + 1
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			j := strings.Index(sql[i+2:], "*/")
			if j < 0 {
				return out
			}
			i += j + 4
		case c == '"' || c == '`' || c == '\'' || c == '[':
			end := c
			if c == '[' {
				end = ']'
			}
			j := i + 1
			for j < len(sql) {
				if sql[j] == end {
					if end != ']' && j+1 < len(sql) && sql[j+1] == end {
						j += 2 // a doubled quote stands for itself
						continue
					}
					break
				}
				j++
			}
			if j >= len(sql) {
				return append(out, sql[i:])
			}
			out = append(out, sql[i:j+1])
			i = j + 1
		case isWordStart(c):
			j := i
			for j < len(sql) && isWordStart(sql[j]) {
				j++
			}
			out = append(out, sql[i:j])
			i = j
		default:
			out = append(out, sql[i:i+1])
			i++
		}
	}
	return out
}

func isWordStart(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// unquoteIdent is a name token without its quotes.
func unquoteIdent(tok string) string {
	if len(tok) < 2 {
		return tok
	}
	switch q := tok[0]; q {
	case '"', '`', '\'':
		if tok[len(tok)-1] == q {
			return strings.ReplaceAll(tok[1:len(tok)-1], string([]byte{q, q}), string(q))
		}
	case '[':
		if tok[len(tok)-1] == ']' {
			return tok[1 : len(tok)-1]
		}
	}
	return tok
}
