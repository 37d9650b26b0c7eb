package agentmcp

import "strings"

// Risky reports whether a statement is one an agent must confirm before
// it runs: a DELETE or an UPDATE without a WHERE of its own (every row),
// or a DROP TABLE. reason says which, for the dry run's answer.
//
// It reads the statement's words, not its meaning: comments, string
// literals and quoted identifiers are skipped, and only words outside
// parentheses count (a WHERE in a subquery is not the statement's). It is
// a guard against a careless statement, not a sandbox: "WHERE true"
// passes, as it says what it means. Whether a statement may write at all
// is SQLite's verdict (the gateway's read-only runs), never this one's.
func Risky(sql string) (reason string, risky bool) {
	words := topWords(sql, 64)
	if len(words) == 0 {
		return "", false
	}
	i := 0
	if words[0] == "WITH" {
		// A common table expression: its bodies are in parentheses, so
		// the statement's verb is the first top-level word that is one.
		for i = 1; i < len(words); i++ {
			if w := words[i]; w == "DELETE" || w == "UPDATE" || w == "SELECT" || w == "INSERT" || w == "REPLACE" || w == "VALUES" {
				break
			}
		}
		if i == len(words) {
			return "", false
		}
	}
	switch words[i] {
	case "DELETE", "UPDATE":
		for _, w := range words[i+1:] {
			if w == "WHERE" {
				return "", false
			}
		}
		return strings.ToLower(words[i]) + "s every row (no WHERE)", true
	case "DROP":
		if i+1 < len(words) && words[i+1] == "TABLE" {
			return "drops a table", true
		}
	}
	return "", false
}

// topWords are the first max words of sql outside parentheses, comments,
// literals and quoted identifiers, in upper case; parameters and
// punctuation are skipped.
func topWords(sql string, limit int) []string {
	var words []string
	depth := 0
	for i := 0; i < len(sql) && len(words) < limit; {
		c := sql[i]
		switch {
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				return words
			}
			i += j + 1
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			j := strings.Index(sql[i+2:], "*/")
			if j < 0 {
				return words
			}
			i += j + 4
		case c == '\'' || c == '"' || c == '`':
			i = skipQuoted(sql, i, c)
		case c == '[':
			j := strings.IndexByte(sql[i:], ']')
			if j < 0 {
				return words
			}
			i += j + 1
		case c == '(':
			depth++
			i++
		case c == ')':
			if depth > 0 {
				depth--
			}
			i++
		case isWordByte(c):
			j := i
			for j < len(sql) && isWordByte(sql[j]) {
				j++
			}
			if depth == 0 && !(c >= '0' && c <= '9') && (i == 0 || !isParamPrefix(sql[i-1])) {
				words = append(words, strings.ToUpper(sql[i:j]))
			}
			i = j
		default:
			i++
		}
	}
	return words
}

// skipQuoted is the index after the quoted token starting at i (a doubled
// quote stands for itself), or len(sql) when it is not closed.
func skipQuoted(sql string, i int, q byte) int {
	for j := i + 1; j < len(sql); j++ {
		if sql[j] == q {
			if j+1 < len(sql) && sql[j+1] == q {
				j++
				continue
			}
			return j + 1
		}
	}
	return len(sql)
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

func isParamPrefix(c byte) bool { return c == ':' || c == '@' || c == '$' }
