package http

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"net/http"

	"github.com/swiperhq/swiper"
)

func (s *Server) sendCode(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Phone *string `json:"phone"`
	}
	if err := DecodeJSON(w, r, &req, false); err != nil {
		WriteError(w, r, err)
		return
	}
	if err := checkPhone(req.Phone); err != nil {
		WriteError(w, r, err)
		return
	}
	phone := *req.Phone
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		WriteError(w, r, swiper.Internal("sendCode", err))
		return
	}
	code := fmt.Sprintf("%06d", n.Int64())
	if err := s.Codes.IssueCode(r.Context(), phone, code, s.CodeTTL, s.CodeResend); err != nil {
		WriteError(w, r, err)
		return
	}
	if err := s.SMS.SendCode(r.Context(), phone, code); err != nil {
		// The phone never got this code: let it ask again at once.
		s.Codes.ForgetCode(r.Context(), phone)
		WriteError(w, r, err)
		return
	}
	WriteJSON(w, http.StatusOK, map[string]int{"expires_in": int(s.CodeTTL.Seconds())})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Phone *string `json:"phone"`
		Code  *string `json:"code"`
	}
	if err := DecodeJSON(w, r, &req, false); err != nil {
		WriteError(w, r, err)
		return
	}
	if err := checkPhone(req.Phone); err != nil {
		WriteError(w, r, err)
		return
	}
	if req.Code == nil || len(*req.Code) == 0 || len(*req.Code) > 16 {
		WriteError(w, r, swiper.FieldError(swiper.EBadRequest, "code", "code must be the code sent by SMS"))
		return
	}
	// Check the code, do the work, and only then use the code up: a login
	// that fails on the way leaves the code for the next try.
	ctx := r.Context()
	if err := s.Codes.CheckCode(ctx, *req.Phone, *req.Code); err != nil {
		WriteError(w, r, err)
		return
	}
	u, created, err := s.Users.LoginPhone(ctx, *req.Phone)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	token, err := s.Tokens.NewToken(ctx, u.ID)
	if err != nil {
		WriteError(w, r, err)
		return
	}
	if err := s.Codes.ConsumeCode(ctx, *req.Phone, *req.Code); err != nil {
		// Another login with the same code got there first.
		s.Tokens.RevokeToken(ctx, token)
		WriteError(w, r, err)
		return
	}
	today := s.today()
	WriteJSON(w, http.StatusOK, struct {
		Token   string  `json:"token"`
		User    User    `json:"user"`
		Profile Profile `json:"profile"`
		Created bool    `json:"created"`
	}{token, UserOf(u, today), ProfileOf(u.Profile), created})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	var req struct{}
	if err := DecodeJSON(w, r, &req, true); err != nil {
		WriteError(w, r, err)
		return
	}
	if err := s.Tokens.RevokeToken(r.Context(), BearerToken(r)); err != nil {
		WriteError(w, r, err)
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
