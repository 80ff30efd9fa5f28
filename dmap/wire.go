package dmap

// JSON bodies of docs/spec/dmap.md, shared by the handler and the Client.
// Binary values travel as unpadded base64url strings (RFC 4648 §5), times
// as RFC 3339 UTC, durations as whole seconds. Member names are matched
// exactly (case-sensitive); unknown and repeated members are refused
// (spec §2.4).

type registerRequest struct {
	Address        string      `json:"address"`
	Invite         string      `json:"invite"`
	Mode           string      `json:"mode"`
	SigningRequest string      `json:"signing_request"`
	DeviceKey      string      `json:"device_key"`
	DeviceName     string      `json:"device_name"`
	KeyBackup      *backupWire `json:"key_backup,omitempty"`
}

type backupWire struct {
	Vault     string     `json:"vault"`
	AccessKey string     `json:"access_key"`
	Salt      string     `json:"salt"`
	Params    paramsWire `json:"params"`
}

type paramsWire struct {
	Time      uint32 `json:"time"`
	MemoryKiB uint32 `json:"memory_kib"`
	Threads   uint8  `json:"threads"`
}

type registerResponse struct {
	Signet   string `json:"signet"`
	DeviceID string `json:"device_id"`
}

type challengeRequest struct {
	Address string `json:"address"`
	Purpose string `json:"purpose"`
	Key     string `json:"key"`
}

type challengeResponse struct {
	Challenge string `json:"challenge"`
	ExpiresIn int64  `json:"expires_in"`
}

type loginRequest struct {
	Address   string `json:"address"`
	DeviceKey string `json:"device_key"`
	Challenge string `json:"challenge"`
	Signature string `json:"signature"`
}

type tokensResponse struct {
	AccessToken      string `json:"access_token"`
	RefreshToken     string `json:"refresh_token"`
	ExpiresIn        int64  `json:"expires_in"`
	RefreshExpiresIn int64  `json:"refresh_expires_in"`
	DeviceID         string `json:"device_id"`
}

type refreshRequest struct {
	RefreshToken string `json:"refresh_token"`
}

type enrollRequest struct {
	Address    string `json:"address"`
	DeviceKey  string `json:"device_key"`
	DeviceName string `json:"device_name"`
	Challenge  string `json:"challenge"`
	Signer     string `json:"signer"`
	Signature  string `json:"signature"`
}

type deviceIDResponse struct {
	DeviceID string `json:"device_id"`
}

type backupChallengeRequest struct {
	Address string `json:"address"`
}

type backupChallengeResponse struct {
	Challenge string     `json:"challenge"`
	ExpiresIn int64      `json:"expires_in"`
	Salt      string     `json:"salt"`
	Params    paramsWire `json:"params"`
}

type backupFetchRequest struct {
	Address   string `json:"address"`
	Challenge string `json:"challenge"`
	Signature string `json:"signature"`
}

type backupFetchResponse struct {
	Vault string `json:"vault"`
}

type deviceWire struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Created  string `json:"created"`
	LastSeen string `json:"last_seen,omitempty"`
	Current  bool   `json:"current"`
}

type devicesResponse struct {
	Devices []deviceWire `json:"devices"`
}

type renameRequest struct {
	Name string `json:"name"`
}

type changesResponse struct {
	Changes []Change `json:"changes"`
	Next    int64    `json:"next"`
	More    bool     `json:"more"`
	Head    int64    `json:"head"`
}

type sendResponse struct {
	Status string `json:"status"` // "delivered" or "queued"
	Digest string `json:"digest"` // lowercase hex
}

type rotateRequest struct {
	SigningRequest string `json:"signing_request"`
}

type signetResponse struct {
	Signet string `json:"signet"`
}

type errorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Current int64  `json:"current,omitempty"`
}
