package apitest

import (
	"path"
	"slices"

	"github.com/getkin/kin-openapi/openapi3"
)

// Missing returns, sorted, the documented operations ("GET /path") that no
// checked exchange reached and the documented fields that none used: a
// response field ("Schema.field") that no response held, a request field
// ("Schema.field (request)") that no request the server accepted (2xx) held.
// Fields of schemas written in place are named after their operation or
// parent field. Call it after every test that sends requests has ended.
func (c *Contract) Missing() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var missing []string
	for key, used := range c.used {
		if !used {
			missing = append(missing, key)
		}
	}
	slices.Sort(missing)
	return missing
}

// Exchanges returns how many exchanges Check has checked.
func (c *Contract) Exchanges() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.exchanges
}

// mark counts an exchange and records that it reached the operation op,
// if op is not empty.
func (c *Contract) mark(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.exchanges++
	if op != "" {
		c.used[op] = true
	}
}

// declare adds the fields of the schema ref, named after owner (or after the
// component schema ref points to) and suffix, to the fields to use. seen
// holds the component schemas already declared, against cycles.
func (c *Contract) declare(ref *openapi3.SchemaRef, owner, suffix string, seen map[string]bool) {
	owner, s := resolve(ref, owner)
	if s == nil || seen[owner] {
		return
	}
	seen[owner] = true
	for _, sub := range subschemas(s) {
		c.declare(sub, owner, suffix, seen)
	}
	for name, p := range s.Properties {
		key := owner + "." + name
		if _, ok := c.used[key+suffix]; !ok {
			c.used[key+suffix] = false
		}
		c.declare(p, key, suffix, seen)
	}
	if s.Items != nil {
		c.declare(s.Items, owner+"[]", suffix, seen)
	}
}

// cover records the fields of the schema ref (named as declare names them)
// that the decoded JSON value v holds.
func (c *Contract) cover(ref *openapi3.SchemaRef, v any, owner, suffix string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.coverLocked(ref, v, owner, suffix)
}

func (c *Contract) coverLocked(ref *openapi3.SchemaRef, v any, owner, suffix string) {
	owner, s := resolve(ref, owner)
	if s == nil {
		return
	}
	for _, sub := range subschemas(s) {
		c.coverLocked(sub, v, owner, suffix)
	}
	switch v := v.(type) {
	case map[string]any:
		for name, value := range v {
			if p, ok := s.Properties[name]; ok {
				c.used[owner+"."+name+suffix] = true
				c.coverLocked(p, value, owner+"."+name, suffix)
			}
		}
	case []any:
		for _, item := range v {
			c.coverLocked(s.Items, item, owner+"[]", suffix)
		}
	}
}

// resolve returns the schema of ref, if any, and its name: the component's
// name for a reference, else owner.
func resolve(ref *openapi3.SchemaRef, owner string) (string, *openapi3.Schema) {
	if ref == nil {
		return owner, nil
	}
	if ref.Ref != "" {
		owner = path.Base(ref.Ref)
	}
	return owner, ref.Value
}

// subschemas returns the schemas s combines with allOf, anyOf and oneOf.
func subschemas(s *openapi3.Schema) openapi3.SchemaRefs {
	return slices.Concat(s.AllOf, s.AnyOf, s.OneOf)
}
