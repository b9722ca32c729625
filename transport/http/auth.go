package http

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/httpapi"
	"github.com/swiperhq/swiper/internal/wire"
)

// Limiter bounds how often one client address may ask for login codes and
// try to log in, across all nodes (store/redis.Limiter). Refusals are
// ERateLimited with RetryAfterSeconds.
type Limiter interface {
	AllowCode(ctx context.Context, addr string) error
	AllowLogin(ctx context.Context, addr string) error
}

// ClientAddr is the address r's client is counted under. It is the peer's
// (RemoteAddr) unless the peer is one of trusted: then X-Forwarded-For is
// read from the right, each trusted hop skipped, and the first one that is
// not trusted is the client (the hops to its left are the client's to
// write, so they are never believed). An IPv6 client counts by its /64,
// which one subscriber usually holds whole.
func ClientAddr(r *http.Request, trusted []netip.Prefix) string {
	addr := peerAddr(r.RemoteAddr)
	if !addr.IsValid() {
		return r.RemoteAddr // not an IP (a unix socket, a test): count it as is
	}
	if isTrusted(addr, trusted) {
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
			if err != nil {
				break // garbage: the last trusted hop is all we know
			}
			addr = hop.Unmap()
			if !isTrusted(addr, trusted) {
				break
			}
		}
	}
	if addr.Is6() {
		p, _ := addr.WithZone("").Prefix(64)
		return p.String()
	}
	return addr.String()
}

func peerAddr(remote string) netip.Addr {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap()
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (s *Server) sendCode(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Phone *string `json:"phone"`
	}
	if err := httpapi.DecodeJSON(w, r, &req, false); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if err := checkPhone(req.Phone); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if s.Limits != nil {
		if err := s.Limits.AllowCode(r.Context(), ClientAddr(r, s.TrustedProxies)); err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
	}
	phone := *req.Phone
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		httpapi.WriteError(w, r, swiper.Internal("sendCode", err))
		return
	}
	code := fmt.Sprintf("%06d", n.Int64())
	if err := s.Codes.IssueCode(r.Context(), phone, code, s.CodeTTL, s.CodeResend); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if err := s.SMS.SendCode(r.Context(), phone, code); err != nil {
		// The phone never got this code: let it ask again at once.
		s.Codes.ForgetCode(r.Context(), phone)
		httpapi.WriteError(w, r, err)
		return
	}
	out := wire.CodeReply{ExpiresIn: int(s.CodeTTL.Seconds())}
	if s.DevCodes {
		out.DevCode = code
	}
	httpapi.WriteJSON(w, http.StatusOK, out)
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Phone *string `json:"phone"`
		Code  *string `json:"code"`
	}
	if err := httpapi.DecodeJSON(w, r, &req, false); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if err := checkPhone(req.Phone); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if req.Code == nil || len(*req.Code) == 0 || len(*req.Code) > 16 {
		httpapi.WriteError(w, r, swiper.FieldError(swiper.EBadRequest, "code", "code must be the code sent by SMS"))
		return
	}
	// Check the code, do the work, and only then use the code up: a login
	// that fails on the way leaves the code for the next try.
	ctx := r.Context()
	if s.Limits != nil {
		if err := s.Limits.AllowLogin(ctx, ClientAddr(r, s.TrustedProxies)); err != nil {
			httpapi.WriteError(w, r, err)
			return
		}
	}
	if err := s.Codes.CheckCode(ctx, *req.Phone, *req.Code); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	u, created, err := s.Users.LoginPhone(ctx, *req.Phone)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	token, err := s.Tokens.NewToken(ctx, u.ID)
	if err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	// A ban that committed after LoginPhone read the user may have revoked
	// the user's tokens before this one was added to them: asked again
	// now, after the token exists, either the ban shows here or it comes
	// later and its revoke-all finds this token.
	if banned, err := s.Users.IsBanned(ctx, u.ID); err != nil || banned {
		s.Tokens.RevokeToken(ctx, token)
		if err == nil {
			err = swiper.Banned("http.login")
		}
		httpapi.WriteError(w, r, err)
		return
	}
	if err := s.Codes.ConsumeCode(ctx, *req.Phone, *req.Code); err != nil {
		// Another login with the same code got there first.
		s.Tokens.RevokeToken(ctx, token)
		httpapi.WriteError(w, r, err)
		return
	}
	today := s.today()
	httpapi.WriteJSON(w, http.StatusOK, wire.LoginReply{Token: token, User: wire.UserOf(u, today), Profile: wire.ProfileOf(u.Profile), Created: created})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	var req struct{}
	if err := httpapi.DecodeJSON(w, r, &req, true); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	if err := s.Tokens.RevokeToken(r.Context(), httpapi.BearerToken(r)); err != nil {
		httpapi.WriteError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// checkPhone requires a phone field holding an E.164 number.
func checkPhone(phone *string) error {
	if phone == nil || !swiper.ValidPhone(*phone) {
		return swiper.FieldError(swiper.EBadRequest, "phone", "phone must be an E.164 number such as +8613800138000")
	}
	return nil
}
