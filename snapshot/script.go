package snapshot

import (
	"bytes"
	"strings"

	"github.com/praetorian/db-forge/forge"
)

// Script reads an SQL script one statement at a time. A statement ends at
// a semicolon outside quotes, comments and the body of a CREATE TRIGGER
// (whose statements end with semicolons of their own, up to its END): the
// rules of sqlite3_complete, which the sqlite3 shell splits its input by.
// A statement longer than max bytes, or a quote or block comment left
// open at the end, is an INVALID_SQL_SCRIPT error; text after the last
// semicolon is a last statement (SQLite judges it).
type Script struct {
	src []byte
	pos int
	max int
	n   int // statements returned
}

// NewScript reads src, with statements of at most max bytes.
func NewScript(src []byte, max int) *Script {
	return &Script{src: src, max: max}
}

// The token classes and states of sqlite3_complete (complete.c).
const (
	tkSemi = iota
	tkWS
	tkOther
	tkExplain
	tkCreate
	tkTemp
	tkTrigger
	tkEnd
)

// completeTrans is sqlite3_complete's transition table: [state][token].
// States: 0 invalid, 1 start, 2 normal, 3 explain, 4 create, 5 trigger,
// 6 semi (in a trigger), 7 end (in a trigger).
var completeTrans = [8][8]uint8{
	/* 0 INVALID */ {1, 0, 2, 3, 4, 2, 2, 2},
	/* 1 START   */ {1, 1, 2, 3, 4, 2, 2, 2},
	/* 2 NORMAL  */ {1, 2, 2, 2, 2, 2, 2, 2},
	/* 3 EXPLAIN */ {1, 3, 3, 2, 4, 2, 2, 2},
	/* 4 CREATE  */ {1, 4, 2, 2, 2, 4, 5, 2},
	/* 5 TRIGGER */ {6, 5, 5, 5, 5, 5, 5, 5},
	/* 6 SEMI    */ {6, 6, 5, 5, 5, 5, 5, 7},
	/* 7 END     */ {1, 7, 5, 5, 5, 5, 5, 5},
}

func isIDChar(c byte) bool {
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// Next returns the next statement, without surrounding space; ok is false
// at the end of the script. Statements holding only spaces, comments and
// semicolons are skipped.
func (s *Script) Next() (stmt string, ok bool, err error) {
	for s.pos < len(s.src) {
		start := s.pos
		end, err := s.scan()
		if err != nil {
			return "", false, err
		}
		text := strings.TrimSpace(string(s.src[start:end]))
		if meaningful(text) {
			s.n++
			return text, true, nil
		}
	}
	return "", false, nil
}

// scan advances past one statement (its semicolon included) and returns
// where it ends.
func (s *Script) scan() (int, error) {
	state := uint8(0)
	src := s.src
	i := s.pos
	start := i
	for i < len(src) {
		if i-start > s.max {
			return 0, forge.Inputf(forge.CodeInvalidSQLScript, "Statement %d is longer than %d bytes.", s.n+1, s.max)
		}
		c := src[i]
		var tok int
		switch {
		case c == ';':
			tok = tkSemi
			i++
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			tok = tkWS
			i++
		case c == '/' && i+1 < len(src) && src[i+1] == '*':
			j := bytes.Index(src[i+2:], []byte("*/"))
			if j < 0 {
				return 0, forge.Inputf(forge.CodeInvalidSQLScript, "Statement %d: a /* comment is not closed.", s.n+1)
			}
			i += 2 + j + 2
			tok = tkWS
		case c == '-' && i+1 < len(src) && src[i+1] == '-':
			for i < len(src) && src[i] != '\n' {
				i++
			}
			tok = tkWS
		case c == '[':
			j := indexByte(src, i+1, ']')
			if j < 0 {
				return 0, forge.Inputf(forge.CodeInvalidSQLScript, "Statement %d: a [ is not closed.", s.n+1)
			}
			i = j + 1
			tok = tkOther
		case c == '`' || c == '"' || c == '\'':
			// A doubled quote inside is two quoted runs back to back:
			// the same token class either way.
			j := indexByte(src, i+1, c)
			if j < 0 {
				return 0, forge.Inputf(forge.CodeInvalidSQLScript, "Statement %d: a %c quote is not closed.", s.n+1, c)
			}
			i = j + 1
			tok = tkOther
		case isIDChar(c):
			j := i
			for j < len(src) && isIDChar(src[j]) {
				j++
			}
			tok = keyword(string(src[i:j]))
			i = j
		default:
			tok = tkOther
			i++
		}
		state = completeTrans[state][tok]
		if tok == tkSemi && state == 1 {
			s.pos = i
			return i, nil
		}
	}
	if i-start > s.max {
		return 0, forge.Inputf(forge.CodeInvalidSQLScript, "Statement %d is longer than %d bytes.", s.n+1, s.max)
	}
	s.pos = i
	return i, nil
}

func indexByte(b []byte, from int, c byte) int {
	for j := from; j < len(b); j++ {
		if b[j] == c {
			return j
		}
	}
	return -1
}

// keyword classifies a word as sqlite3_complete does.
func keyword(w string) int {
	switch strings.ToUpper(w) {
	case "CREATE":
		return tkCreate
	case "TRIGGER":
		return tkTrigger
	case "TEMP", "TEMPORARY":
		return tkTemp
	case "END":
		return tkEnd
	case "EXPLAIN":
		return tkExplain
	}
	return tkOther
}

// meaningful reports whether a statement's text holds more than spaces,
// comments and semicolons.
func meaningful(text string) bool {
	return firstWords(text, 1) != ""
}

// firstWords returns the first n words of a statement, upper-cased and
// joined by one space, skipping spaces and comments; a word is a run of
// identifier characters, or any other single character.
func firstWords(text string, n int) string {
	var words []string
	i := 0
	for i < len(text) && len(words) < n {
		c := text[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == ';':
			i++
		case strings.HasPrefix(text[i:], "--"):
			j := strings.IndexByte(text[i:], '\n')
			if j < 0 {
				return strings.Join(words, " ")
			}
			i += j
		case strings.HasPrefix(text[i:], "/*"):
			j := strings.Index(text[i+2:], "*/")
			if j < 0 {
				return strings.Join(words, " ")
			}
			i += 2 + j + 2
		case isIDChar(c):
			j := i
			for j < len(text) && isIDChar(text[j]) {
				j++
			}
			words = append(words, strings.ToUpper(text[i:j]))
			i = j
		default:
			words = append(words, string(c))
			i++
		}
	}
	return strings.Join(words, " ")
}

// stmtKind is what an import does with a statement of a script.
type stmtKind uint8

const (
	stmtRun      stmtKind = iota // run it
	stmtSkip                     // the script's own transaction (BEGIN, COMMIT), or a dump's PRAGMA foreign_keys=OFF
	stmtRollback                 // ROLLBACK: the script says it failed (sqlite3's dump ends so after errors)
)

// classify says what an import does with statement text: an import runs
// in one transaction of its own, so a script's BEGIN and COMMIT (which
// every dump has) are skipped, and so is the "PRAGMA foreign_keys=OFF"
// a dump starts with (foreign keys are never enforced on import's
// connection anyway: it is SQLite's default).
func classify(text string) stmtKind {
	w := firstWords(text, 4)
	first, _, _ := strings.Cut(w, " ")
	switch first {
	case "BEGIN", "COMMIT", "END":
		return stmtSkip
	case "ROLLBACK":
		if !strings.HasPrefix(w, "ROLLBACK TO") {
			return stmtRollback
		}
	case "PRAGMA":
		if w == "PRAGMA FOREIGN_KEYS = OFF" || w == "PRAGMA FOREIGN_KEYS = 0" {
			return stmtSkip
		}
	}
	return stmtRun
}
