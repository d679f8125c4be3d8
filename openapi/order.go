package openapi

import (
	"bytes"
	"encoding/json"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// MergedJSON is Merged as JSON with its paths in the order the spec files
// write them (register, login, refresh, me, ... then the tasks), the order a
// user meets them: kin-openapi writes a document's paths sorted, and Swagger
// UI and ReDoc show them in the document's order.
func MergedJSON() ([]byte, error) {
	merged, err := Merged()
	if err != nil {
		return nil, err
	}
	doc, err := merged.MarshalJSON()
	if err != nil {
		return nil, err
	}
	var order []string
	for _, s := range Specs {
		paths, err := pathOrder(s.Data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.File, err)
		}
		order = append(order, paths...)
	}
	return withPaths(doc, order)
}

// pathOrder lists the paths of a YAML document in the order it writes them.
func pathOrder(data []byte) ([]string, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, err
	}
	if len(root.Content) != 1 || root.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("not a YAML mapping")
	}
	top := root.Content[0].Content
	for i := 0; i+1 < len(top); i += 2 {
		if top[i].Value != "paths" {
			continue
		}
		var out []string
		for j := 0; j+1 < len(top[i+1].Content); j += 2 {
			out = append(out, top[i+1].Content[j].Value)
		}
		return out, nil
	}
	return nil, nil
}

// withPaths rewrites the "paths" object of a JSON document in order; a
// path the order does not name is an error (it would be lost).
func withPaths(doc []byte, order []string) ([]byte, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(doc, &top); err != nil {
		return nil, err
	}
	var paths map[string]json.RawMessage
	if err := json.Unmarshal(top["paths"], &paths); err != nil {
		return nil, err
	}
	if len(order) != len(paths) {
		return nil, fmt.Errorf("openapi: %d paths in order, %d in the document", len(order), len(paths))
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, p := range order {
		item, ok := paths[p]
		if !ok {
			return nil, fmt.Errorf("openapi: path %s is not in the document", p)
		}
		if i > 0 {
			b.WriteByte(',')
		}
		key, _ := json.Marshal(p)
		b.Write(key)
		b.WriteByte(':')
		b.Write(item)
	}
	b.WriteByte('}')
	top["paths"] = b.Bytes()
	return json.Marshal(top)
}

// MergedYAML is MergedJSON as YAML, in the same order.
func MergedYAML() ([]byte, error) {
	doc, err := MergedJSON()
	if err != nil {
		return nil, err
	}
	var root yaml.Node
	if err := yaml.Unmarshal(doc, &root); err != nil { // JSON is YAML: the order is kept
		return nil, err
	}
	blockStyle(&root)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&root); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}

// blockStyle drops the JSON styles (flow collections, quoted scalars) of a
// node tree: YAML quotes what needs it by the scalars' tags.
func blockStyle(n *yaml.Node) {
	n.Style = 0
	for _, c := range n.Content {
		blockStyle(c)
	}
}
