package graphqlhttp

import (
	"testing"

	"github.com/99designs/gqlgen/graphql/errcode"

	"github.com/talkdesk-intercom/api/sources"
)

// gqlgen sets these codes itself; the vocabulary declares them so that
// clients and the docs see one list.
func TestGQLGenCodesAreInTheVocabulary(t *testing.T) {
	for got, want := range map[string]string{
		sources.EGraphQLParseFailed:      errcode.ParseFailed,
		sources.EGraphQLValidationFailed: errcode.ValidationFailed,
	} {
		if got != want {
			t.Errorf("sources declares %s, gqlgen answers %s", got, want)
		}
	}
}
