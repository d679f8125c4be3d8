package httpx

// HasKeyword is hasKeyword for the conformance test (package httpx_test):
// one list of the schema keywords x-error-codes may name.
var HasKeyword = hasKeyword
