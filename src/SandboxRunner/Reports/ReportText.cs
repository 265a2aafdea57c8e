using System.Text;

namespace SandboxRunner.Host.Reports;

/// <summary>
/// Text from a result as a report may hold it. Results are already redacted and have terminal controls made
/// visible (the library's <c>TaskResults.Shown</c>); here they are only bounded, and stripped of what a
/// format cannot carry at all.
/// </summary>
internal static class ReportText
{
    /// <summary>Cut to <paramref name="chars"/> (keeping the end when <paramref name="keepEnd"/>, as for a log tail), never splitting a surrogate pair.</summary>
    public static string Cap(string text, int chars, bool keepEnd = false)
    {
        if (text.Length <= chars)
        {
            return text;
        }

        if (keepEnd)
        {
            var start = text.Length - chars;
            if (char.IsLowSurrogate(text[start]))
            {
                start++;
            }

            return "…" + text[start..];
        }

        var end = chars;
        if (char.IsHighSurrogate(text[end - 1]))
        {
            end--;
        }

        return text[..end] + "…";
    }

    /// <summary>Only characters XML 1.0 allows (no NUL or other C0 controls but tab and newlines, no lone surrogates); the others become U+FFFD.</summary>
    public static string XmlSafe(string text)
    {
        StringBuilder? clean = null;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            var ok = char.IsHighSurrogate(c)
                ? i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])
                : !char.IsLowSurrogate(c) || (i > 0 && char.IsHighSurrogate(text[i - 1]));
            ok = ok && (c is '\t' or '\n' or '\r' || (c >= 0x20 && c != '\uFFFE' && c != '\uFFFF'));
            if (!ok && clean is null)
            {
                clean = new StringBuilder(text.Length).Append(text, 0, i);
            }

            clean?.Append(ok ? c : '\uFFFD');
        }

        return clean?.ToString() ?? text;
    }

    public static string FirstLine(string text, int chars)
    {
        var line = text.AsSpan().Trim();
        var newline = line.IndexOfAny('\r', '\n');
        return Cap((newline >= 0 ? line[..newline] : line).ToString(), chars);
    }
}
