package functions

import "github.com/praetorian/db-forge/forge"

// validSQLFunction checks a deploy's "sql_function".
func validSQLFunction(f *forge.SQLFunction) error {
	if !nameRule.MatchString(f.Name) {
		return invalid("Invalid sql_function name %q: a lower-case letter, then up to 62 lower-case letters, digits or underscores.", f.Name)
	}
	if f.Args < -1 || f.Args > 16 {
		return invalid("sql_function args must be from 0 to 16 (or -1: any number).")
	}
	return nil
}
