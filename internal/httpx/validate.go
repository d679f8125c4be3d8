package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/todoapp/todo-api/internal/apperr"
)

func init() {
	// A uuid (a session id in a path) is checked by the validator like any
	// other schema rule, so a bad one is a 422 that names its field. This
	// registers the format with kin-openapi, for the whole process.
	openapi3.DefineStringFormatValidator("uuid", openapi3.NewCallbackValidator(func(s string) error {
		if _, err := uuid.Parse(s); err != nil || len(s) != 36 {
			return errors.New("not a UUID such as 3fa85f64-5717-4562-b3fc-2c963f66afa6")
		}
		return nil
	}))
	// A JSON number a float64 cannot hold (1e999) would fail kin-openapi's
	// conversions with strconv's text and no field; marked, it fails the
	// schema at its field like a value of the wrong type (requestError).
	openapi3filter.RegisterBodyDecoder(echo.MIMEApplicationJSON, func(body io.Reader, h http.Header, s *openapi3.SchemaRef, enc openapi3filter.EncodingFn) (any, error) {
		v, err := openapi3filter.JSONBodyDecoder(body, h, s, enc)
		if err != nil {
			return nil, err
		}
		return markOutOfRange(v), nil
	})
}

// outOfRange stands, in a decoded body, for a number too large for a
// float64. No schema accepts it.
type outOfRange string

func markOutOfRange(v any) any {
	switch v := v.(type) {
	case json.Number:
		if _, err := v.Float64(); err != nil {
			return outOfRange(v)
		}
	case []any:
		for i := range v {
			v[i] = markOutOfRange(v[i])
		}
	case map[string]any:
		for k := range v {
			v[k] = markOutOfRange(v[k])
		}
	}
	return v
}

// validatorOptions: authentication is our own middleware's job, and the
// validator must never rewrite a body (PATCH sends only what changes).
// Operations without a body get the spec's defaults of their parameters
// filled in (withDefaults): the spec is where those defaults live.
var (
	validatorOptions = &openapi3filter.Options{
		AuthenticationFunc:  openapi3filter.NoopAuthenticationFunc,
		SkipSettingDefaults: true,
	}
	withDefaults = &openapi3filter.Options{
		AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
	}
)

// validateRequest checks a request against its operation in the spec before
// the handler runs, and answers structural problems with the contract's
// errors: 415 for an undeclared content type, 422 VALIDATION_ERROR (with the
// field) for a missing or mistyped value or an unparseable body. A schema
// rule that the spec maps to a named code (x-error-codes: a password's
// length, a title's) answers that code instead; what a schema cannot say
// (an email's shape, lengths after trimming or in bytes) the handlers check
// and answer with their named 400 codes.
func validateRequest(spec *openapi3.T, path, method string, op *openapi3.Operation) echo.MiddlewareFunc {
	route := &routers.Route{Spec: spec, Path: path, PathItem: spec.Paths.Value(path), Method: method, Operation: op}
	opts := validatorOptions
	if op.RequestBody == nil {
		opts = withDefaults
	}
	inQuery, inForm := map[string]bool{}, map[string]bool{}
	for _, p := range append(route.PathItem.Parameters, op.Parameters...) {
		if p.Value != nil && p.Value.In == openapi3.ParameterInQuery {
			inQuery[p.Value.Name] = true
		}
	}
	if op.RequestBody != nil && op.RequestBody.Value != nil {
		if mt := op.RequestBody.Value.Content.Get(echo.MIMEApplicationForm); mt != nil && mt.Schema != nil && mt.Schema.Value != nil {
			for name := range mt.Schema.Value.Properties {
				inForm[name] = true
			}
		}
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := checkURLEncoded(c.Request().URL.RawQuery, inQuery); err != nil {
				return err
			}
			if err := checkBody(c.Request(), inForm); err != nil {
				return err
			}
			dropEmptyQueryValues(c.Request())
			names, values := c.ParamNames(), c.ParamValues()
			params := make(map[string]string, len(names))
			for i, n := range names {
				params[n] = values[i]
			}
			err := openapi3filter.ValidateRequest(c.Request().Context(), &openapi3filter.RequestValidationInput{
				Request: c.Request(), PathParams: params, Route: route, Options: opts,
			})
			if err != nil {
				return requestError(err)
			}
			return next(c)
		}
	}
}

// checkURLEncoded refuses URL-encoded text (a query string, a form body)
// that does not parse, as any malformed value is refused (422
// VALIDATION_ERROR): Go's parser drops a parameter with a ";" or a bad
// %-escape, and the operation would run without it (?sort=foo;drop listed
// in the default order). field names the parameter at fault when it is one
// of names, the operation's.
func checkURLEncoded(raw string, names map[string]bool) error {
	if !strings.ContainsAny(raw, ";%") {
		return nil // nothing that can fail: the common case stays cheap
	}
	if _, err := url.ParseQuery(raw); err == nil {
		return nil
	}
	for _, part := range strings.Split(raw, "&") {
		if _, err := url.ParseQuery(part); err == nil {
			continue
		}
		field := ""
		if name, err := url.QueryUnescape(strings.SplitN(part, "=", 2)[0]); err == nil && names[name] {
			field = name
		}
		reason := `a "%" must begin an escape such as %20`
		if strings.Contains(part, ";") {
			reason = `";" does not separate parameters; use "&" (or %3B in a value)`
		}
		return apperr.Validation(describe(field, reason), field)
	}
	return nil
}

// dropEmptyQueryValues makes `?sort=&q=` the same as no sort and no q: an
// empty query parameter counts as absent, so it gets the spec's default.
func dropEmptyQueryValues(r *http.Request) {
	if !strings.Contains(r.URL.RawQuery, "=&") && !strings.HasSuffix(r.URL.RawQuery, "=") {
		return // nothing empty: the common case stays cheap
	}
	q := r.URL.Query()
	for k, vs := range q {
		if len(vs) == 1 && vs[0] == "" {
			delete(q, k)
		}
	}
	r.URL.RawQuery = q.Encode()
}

// checkBody refuses a body that Go's decoders would read with silent
// repairs or leftovers. JSON: invalid UTF-8 and unpaired UTF-16 surrogate
// escapes (both would become U+FFFD), and anything after the first value.
// A form: what checkURLEncoded refuses (inForm: the form's fields). The
// body is put back for the validator and the handler to read.
func checkBody(r *http.Request, inForm map[string]bool) error {
	if r.Body == nil || r.Body == http.NoBody {
		return nil
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get(echo.HeaderContentType))
	if err != nil || (mt != echo.MIMEApplicationJSON && mt != echo.MIMEApplicationForm) {
		return nil // another content type is the validator's to judge
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err // the body limit's 413, or a broken connection
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if mt == echo.MIMEApplicationForm {
		return checkURLEncoded(string(body), inForm)
	}
	switch {
	case len(bytes.TrimSpace(body)) == 0:
		return nil // the validator tells whether a body is required
	case !utf8.Valid(body):
		return apperr.Validation("Request body is not valid UTF-8", "")
	case !json.Valid(body):
		return apperr.Validation("Request body is not a single valid JSON value", "")
	case hasLoneSurrogate(body):
		return apperr.Validation("Request body has a \\u escape of an unpaired UTF-16 surrogate, which is not a character", "")
	}
	return nil
}

// hasLoneSurrogate reports whether valid JSON text has a \uD800-\uDFFF escape
// that is not a high surrogate followed by a low one.
func hasLoneSurrogate(b []byte) bool {
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		i++ // the escaped character; in valid JSON there is one
		if b[i] != 'u' {
			continue
		}
		r := hex4(b[i+1 : i+5])
		i += 4
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return true // a low surrogate first
		case r >= 0xD800 && r <= 0xDBFF:
			if i+6 >= len(b) || b[i+1] != '\\' || b[i+2] != 'u' {
				return true
			}
			if lo := hex4(b[i+3 : i+7]); lo < 0xDC00 || lo > 0xDFFF {
				return true
			}
			i += 6
		}
	}
	return false
}

func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		}
	}
	return r
}

// errorCodesKey is the schema extension that names the contract's error for
// a rule: `x-error-codes: {maxLength: DESCRIPTION_TOO_LONG}` makes a value
// that breaks the schema's maxLength a 400 DESCRIPTION_TOO_LONG instead of a
// 422 VALIDATION_ERROR. A wrong JSON type or a missing field stays a 422.
const errorCodesKey = "x-error-codes"

// errorCodes reads a schema's x-error-codes: keyword to code.
func errorCodes(s *openapi3.Schema) map[string]string {
	raw, _ := s.Extensions[errorCodesKey].(map[string]any)
	out := make(map[string]string, len(raw))
	for k, v := range raw {
		if code, ok := v.(string); ok {
			out[k] = code
		}
	}
	return out
}

// namedError is the contract's error for the rule se broke, when the
// schema names one (x-error-codes), or nil.
func namedError(se *openapi3.SchemaError, field string) *apperr.Error {
	if se.Schema == nil || !ofSchemaType(se.Schema, se.Value) {
		return nil // a wrong JSON type is structural, whatever rule noticed it
	}
	if e := apperr.ByCode(errorCodes(se.Schema)[se.SchemaField]); e != nil {
		return e.WithField(field)
	}
	return nil
}

// checkErrorCodes refuses a spec whose x-error-codes name a code the
// contract does not define (apperr) or a keyword the schema does not have,
// so a typo in YAML stops the server at start, not a client later.
func checkErrorCodes(spec *openapi3.T) error {
	var problems []string
	seen := map[*openapi3.Schema]bool{}
	var visit func(where string, ref *openapi3.SchemaRef)
	visit = func(where string, ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		for keyword, code := range errorCodes(s) {
			if apperr.ByCode(code) == nil {
				problems = append(problems, fmt.Sprintf("%s: x-error-codes names an unknown code %q", where, code))
			}
			if !hasKeyword(s, keyword) {
				problems = append(problems, fmt.Sprintf("%s: x-error-codes names %q, which the schema does not have", where, keyword))
			}
		}
		for name, p := range s.Properties {
			visit(where+"."+name, p)
		}
		visit(where+"[]", s.Items)
	}
	for name, s := range spec.Components.Schemas {
		visit(name, s)
	}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			for _, p := range append(item.Parameters, op.Parameters...) {
				if p.Value != nil {
					visit(method+" "+path+" "+p.Value.Name, p.Value.Schema)
				}
			}
		}
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// ofSchemaType reports whether v is of s's JSON type (kin-openapi checks an
// enum before the type, so a number against a string enum fails "enum").
func ofSchemaType(s *openapi3.Schema, v any) bool {
	switch v.(type) {
	case string:
		return s.Type.Is(openapi3.TypeString)
	case float64, json.Number, int, int64:
		return s.Type.Is(openapi3.TypeNumber) || s.Type.Is(openapi3.TypeInteger)
	}
	return false
}

func hasKeyword(s *openapi3.Schema, keyword string) bool {
	switch keyword {
	case "minLength":
		return s.MinLength > 0
	case "maxLength":
		return s.MaxLength != nil
	case "pattern":
		return s.Pattern != ""
	case "enum":
		return len(s.Enum) > 0
	case "minimum":
		return s.Min != nil
	case "maximum":
		return s.Max != nil
	}
	return false
}

func requestError(err error) error {
	var he *echo.HTTPError // the body limit's 413, met while reading the body
	if errors.As(err, &he) {
		return he
	}
	var re *openapi3filter.RequestError
	if !errors.As(err, &re) {
		return apperr.Validation("The request is not valid: "+err.Error(), "")
	}
	if strings.HasPrefix(re.Reason, "header Content-Type has unexpected value") {
		ct := re.Input.Request.Header.Get(echo.HeaderContentType)
		if ct == "" {
			return apperr.UnsupportedMediaType.WithDetail("A Content-Type header is required")
		}
		return apperr.UnsupportedMediaType.WithDetail("Unsupported content type: " + ct)
	}
	field := ""
	if re.Parameter != nil {
		field = re.Parameter.Name
	}
	var se *openapi3.SchemaError
	switch {
	case errors.As(re.Err, &se):
		named := field // a named code's field is the body's property: `recurrence`, not `recurrence.rule`
		if p := se.JSONPointer(); len(p) > 0 {
			field, named = strings.Join(p, "."), p[0]
		}
		if _, ok := se.Value.(outOfRange); ok {
			return apperr.Validation(describe(field, outOfRangeReason(se.Schema)), field)
		}
		if e := namedError(se, named); e != nil {
			return e
		}
		if se.SchemaField == "required" {
			if name := missingProperty(se.Reason); name != "" {
				// kin-openapi's pointer already ends with the missing name.
				if !strings.HasSuffix("."+field, "."+name) {
					field = joinField(field, name)
				}
				return apperr.Validation(field+" is required", field)
			}
		}
		return apperr.Validation(describe(field, se.Reason), field)
	case errors.Is(re.Err, openapi3filter.ErrInvalidRequired):
		if re.Parameter != nil {
			return apperr.Validation(field+" is required", field)
		}
		return apperr.BodyRequired
	case re.RequestBody != nil:
		return apperr.Validation("Request body could not be parsed", "")
	default:
		return apperr.Validation(describe(field, causeText(re)), field)
	}
}

// outOfRangeReason words a number too large for a float64 (1e999) at a
// field of schema s: a value of the wrong type where s is not numeric.
func outOfRangeReason(s *openapi3.Schema) string {
	if s != nil && s.Type != nil {
		if t := s.Type.Slice(); len(t) == 1 {
			if want, ok := jsonTypeNames[t[0]]; ok {
				return "value must be " + want
			}
		}
	}
	return "number is out of range"
}

// jsonTypeNames names the JSON types other than numbers, with their article.
var jsonTypeNames = map[string]string{
	openapi3.TypeString: "a string", openapi3.TypeBoolean: "a boolean",
	openapi3.TypeObject: "an object", openapi3.TypeArray: "an array",
}

// missingProperty extracts NAME from kin-openapi's `property "NAME" is missing`.
func missingProperty(reason string) string {
	var name string
	if _, err := fmt.Sscanf(reason, "property %q is missing", &name); err != nil {
		return ""
	}
	return name
}

func joinField(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

func describe(field, reason string) string {
	if field == "" {
		return reason
	}
	return field + ": " + reason
}

func causeText(re *openapi3filter.RequestError) string {
	if re.Err != nil {
		var pe *openapi3filter.ParseError
		if errors.As(re.Err, &pe) && pe.Reason != "" {
			return pe.Reason
		}
		return re.Err.Error()
	}
	return re.Reason
}
