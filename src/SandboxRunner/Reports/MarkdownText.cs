using System.Text;

namespace SandboxRunner.Host.Reports;

/// <summary>
/// Text a report did not write itself (an agent's summary, a command, a path), put into Markdown so that it reads
/// as it was written and renders as nothing but text: no link, image, HTML, emphasis, math, mention or cell
/// border. Prose is escaped only where a character would start Markdown where it stands; commands and paths go
/// into code spans, where nothing is Markdown. Everything stays on one line.
/// </summary>
internal static class MarkdownText
{
    /// <summary><paramref name="text"/> as plain text; <paramref name="inTable"/> also keeps a <c>|</c> from ending the cell.</summary>
    public static string Plain(string text, bool inTable = false)
    {
        var plain = new StringBuilder(text.Length + 8);
        var math = text.Count(c => c == '$') > 1;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            var before = i > 0 ? text[i - 1] : ' ';
            var after = i + 1 < text.Length ? text[i + 1] : ' ';
            switch (c)
            {
                case '\r' or '\n' or '\t':
                    plain.Append(' ');
                    break;
                case < ' ' or '\u007f':
                    plain.Append('\uFFFD');
                    break;
                case '<':
                    plain.Append("&lt;");
                    break;
                case '>':
                    plain.Append("&gt;");
                    break;
                case '&':
                    plain.Append("&amp;");
                    break;
                case '\\' or '`' or '*' or '[' or ']' or '~':
                    plain.Append('\\').Append(c);
                    break;
                case '_' when !char.IsLetterOrDigit(before) || !char.IsLetterOrDigit(after):
                    // Only an underscore at a word's edge can open or close emphasis (PROBE_HOST stays as it is).
                    plain.Append("\\_");
                    break;
                case '|' when inTable:
                    plain.Append("\\|");
                    break;
                case '$' when math:
                    plain.Append("\\$");
                    break;
                case '@':
                    // Neither a mention that notifies someone nor an e-mail autolink.
                    plain.Append("\\@");
                    break;
                case '#' when char.IsAsciiDigit(after):
                    plain.Append("\\#");
                    break;
                case ':' when after == '/' && i + 2 < text.Length && text[i + 2] == '/':
                    // https://… stays text: a bare URL would become a link.
                    plain.Append("\\:");
                    break;
                case '.' when i >= 3 && text.AsSpan(i - 3, 3).Equals("www", StringComparison.OrdinalIgnoreCase) && (i < 4 || !char.IsLetterOrDigit(text[i - 4])):
                    plain.Append("\\.");
                    break;
                default:
                    plain.Append(c);
                    break;
            }
        }

        return plain.ToString();
    }

    /// <summary><paramref name="text"/> verbatim in a code span, fenced with more backticks than it holds in a row.</summary>
    public static string Code(string text, bool inTable = false)
    {
        var code = new StringBuilder(text.Length);
        var run = 0;
        var longest = 0;
        foreach (var c in text)
        {
            run = c == '`' ? run + 1 : 0;
            longest = Math.Max(longest, run);
            code.Append(c switch
            {
                '\r' or '\n' or '\t' => " ",
                < ' ' or '\u007f' => "\uFFFD",
                '|' when inTable => "\\|",
                _ => c.ToString(),
            });
        }

        var fence = new string('`', longest + 1);
        var pad = code.Length > 0 && (code[0] is '`' or ' ' || code[^1] is '`' or ' ') ? " " : "";
        return code.Length == 0 ? "` `" : $"{fence}{pad}{code}{pad}{fence}";
    }
}
