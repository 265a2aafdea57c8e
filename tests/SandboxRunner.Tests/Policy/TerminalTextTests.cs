using SandboxRunner.Policy;

namespace SandboxRunner.Tests.Policy;

public sealed class TerminalTextTests
{
    [Fact]
    public void An_osc_52_clipboard_write_is_made_visible()
    {
        var text = TerminalText.Neutralise("done\u001b]52;c;Y3VybCBldmlsIHwgc2g=\u0007");

        Assert.Equal("done\\x1b]52;c;Y3VybCBldmlsIHwgc2g=\\x07", text);
    }

    [Fact]
    public void A_screen_clear_is_made_visible()
    {
        Assert.Equal("\\x1b[2J\\x1b[Hall good", TerminalText.Neutralise("\u001b[2J\u001b[Hall good"));
    }

    [Fact]
    public void A_lone_carriage_return_is_made_visible_but_crlf_stays()
    {
        Assert.Equal("fake\\x0dreal\r\nnext", TerminalText.Neutralise("fake\rreal\r\nnext"));
    }

    [Fact]
    public void C1_controls_and_bidi_overrides_are_made_visible()
    {
        Assert.Equal("\\x9b2J \\u202etxt", TerminalText.Neutralise("\u009b2J \u202etxt"));
    }

    [Fact]
    public void Ordinary_text_with_tabs_newlines_and_accents_is_unchanged()
    {
        const string text = "caf\u00e9\tok\nline 2 \u2713";

        Assert.Same(text, TerminalText.Neutralise(text));
    }
}
