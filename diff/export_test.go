package diff

import "github.com/praetorian/db-forge/forge"

// PlanSQL is the scan of table name on src, after key when it is not
// nil: what a test asks EXPLAIN QUERY PLAN of.
func PlanSQL(src Source, name string, after bool) (string, int, error) {
	s, err := readSchema(src)
	if err != nil {
		return "", 0, err
	}
	t := s.tables[fold(name)]
	if !after {
		sql, _ := scanSQL(t, nil)
		return sql, 0, nil
	}
	key := make([]forgeValue, t.key.width())
	for i := range key {
		key[i] = forgeInt(1)
	}
	sql, args := scanSQL(t, key)
	return sql, len(args), nil
}

type forgeValue = forge.Value

func forgeInt(i int64) forge.Value { return forge.IntValue(i) }
