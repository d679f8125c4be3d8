package httpx_test

import (
	"fmt"
	"net/http"
	"testing"
)

// The benchmarks go through the whole server (router, middleware, validator,
// handlers) on a real database. Rate limits are off; login and register use
// the production bcrypt cost, 12.

func BenchmarkMe(b *testing.B) {
	a := newApp(b)
	access, _ := a.login(b, "bench@example.com", "correct-horse")
	b.ReportAllocs()
	for b.Loop() {
		if r := a.me(b, access); r.Code != http.StatusOK {
			b.Fatal(r.Code, r.Body.String())
		}
	}
}

func BenchmarkMeRejected(b *testing.B) {
	a := newApp(b)
	b.ReportAllocs()
	for b.Loop() {
		if r := a.me(b, "not.a.token"); r.Code != http.StatusUnauthorized {
			b.Fatal(r.Code)
		}
	}
}

func BenchmarkRefresh(b *testing.B) {
	a := newApp(b)
	_, refresh := a.login(b, "bench@example.com", "correct-horse")
	b.ReportAllocs()
	for b.Loop() {
		r := a.refresh(b, refresh)
		if r.Code != http.StatusOK {
			b.Fatal(r.Code, r.Body.String())
		}
		refresh = r.Cookie("refresh_token").Value
	}
}

func BenchmarkLogin(b *testing.B) {
	a := newApp(b, func(o *options) { o.bcryptCost = 12 })
	a.login(b, "bench@example.com", "correct-horse")
	for _, c := range []struct {
		name, user, pass string
		code             int
	}{
		{"Success", "bench@example.com", "correct-horse", http.StatusOK},
		{"WrongPassword", "bench@example.com", "wrong-horse", http.StatusUnauthorized},
		{"UnknownEmail", "nobody@example.com", "correct-horse", http.StatusUnauthorized},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if r := a.loginRaw(b, c.user, c.pass); r.Code != c.code {
					b.Fatal(r.Code, r.Body.String())
				}
			}
		})
	}
}

func BenchmarkRegister(b *testing.B) {
	a := newApp(b, func(o *options) { o.bcryptCost = 12 })
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		if r := a.register(b, fmt.Sprintf("user%d@example.com", i), "correct-horse"); r.Code != http.StatusCreated {
			b.Fatal(r.Code, r.Body.String())
		}
	}
}
