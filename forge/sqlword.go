package forge

import "strings"

// LeadingWord is the first word of a statement's text, after spaces,
// comments and opening parentheses ("" when there is none): enough to
// route a statement before SQLite has seen it (a write that may join group
// commit, a read that may run on a reader). It only routes: what a
// statement does is what SQLite prepares, so a guess it gets wrong costs
// time, never correctness.
func LeadingWord(sql string) string {
	i := 0
	for i < len(sql) {
		switch c := sql[i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '(':
			i++
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				return ""
			}
			i += j + 1
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			j := strings.Index(sql[i+2:], "*/")
			if j < 0 {
				return ""
			}
			i += j + 4
		default:
			j := i
			for j < len(sql) && isWordByte(sql[j]) {
				j++
			}
			return sql[i:j]
		}
	}
	return ""
}

func isWordByte(c byte) bool {
	return c == '_' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}
