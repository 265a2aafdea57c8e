using System.Text;

namespace SandboxRunner.Policy;

/// <summary>
/// Makes agent text safe to show a person: terminal control sequences (an OSC 52 clipboard write, a
/// screen clear, a cursor move over an earlier line) and bidirectional overrides become visible
/// <c>\x1b</c>-style text instead of acting on the reader's terminal. Tabs and newlines stay.
/// </summary>
public static class TerminalText
{
    public static string Neutralise(string text)
    {
        if (string.IsNullOrEmpty(text) || !text.Any(IsControl))
        {
            return text;
        }

        var safe = new StringBuilder(text.Length + 16);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];

            // A CR that ends a CRLF line moves nothing a reader sees; a lone one rewrites the line.
            if (IsControl(c) && !(c == '\r' && i + 1 < text.Length && text[i + 1] == '\n'))
            {
                safe.Append(c <= 0xFF ? $"\\x{(int)c:x2}" : $"\\u{(int)c:x4}");
            }
            else
            {
                safe.Append(c);
            }
        }

        return safe.ToString();
    }

    private static bool IsControl(char c) =>
        (c < 0x20 && c is not '\n' and not '\t') || c is >= '\u007f' and <= '\u009f'
        || c is >= '\u202a' and <= '\u202e' || c is >= '\u2066' and <= '\u2069';
}
