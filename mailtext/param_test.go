package mailtext

import "testing"

func TestMimeParams(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in, value, name string
		damaged         bool
	}{
		{`attachment; filename="a b.txt"`, "attachment", "a b.txt", false},
		{`Attachment; FILENAME=plain.txt`, "attachment", "plain.txt", false},
		{`attachment; filename*=shift_jis''%90%BF%8B%81%8F%91.pdf`, "attachment", "請求書.pdf", false},
		{`attachment; filename*=UTF-8'en'%E2%9C%93`, "attachment", "✓", false},
		{`attachment; filename="=?iso-2022-jp?b?GyRCRnxLXDhsGyhCLnR4dA==?="`, "attachment", "日本語.txt", false},
		{`attachment; filename*1=" two"; filename*0="one"`, "attachment", "one two", false},
		{`attachment; filename*=x-unknown''caf%E9`, "attachment", "café", false},
		{`attachment; filename="unterminated`, "attachment", "unterminated", false},
		{`attachment; filename*x=bad; filename=good`, "attachment", "good", true},
		{`attachment; junk; filename=kept`, "attachment", "kept", true},
		{``, "", "", false},
	} {
		value, params, err := mimeParams(c.in)
		if value != c.value || params["filename"] != c.name || (err != nil) != c.damaged {
			t.Errorf("mimeParams(%q) = %q, %q, %v; want %q, %q, damaged %v", c.in, value, params["filename"], err, c.value, c.name, c.damaged)
		}
	}
}
