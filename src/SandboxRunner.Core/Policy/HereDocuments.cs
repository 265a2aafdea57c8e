using System.Text;

namespace SandboxRunner.Policy;

/// <summary>A here-document whose operator was read and whose body starts after the current line.</summary>
/// <param name="Delimiter">The terminator line, quotes removed.</param>
/// <param name="Quoted">Whether any part of the delimiter was quoted: then bash expands nothing in the body.</param>
/// <param name="StripTabs"><c>&lt;&lt;-</c>: leading tabs are removed from body lines and the terminator.</param>
internal sealed record PendingHereDocument(string Delimiter, bool Quoted, bool StripTabs);

/// <summary>
/// Here-documents as bash reads them. Their bodies are text, not commands: read as commands, a quote in a
/// body opened a string that swallowed the real commands after the terminator (found by the red team).
/// A body bash expands (unquoted delimiter) that holds a command substitution cannot be audited.
/// </summary>
internal static class HereDocuments
{
    /// <summary>
    /// Reads <c>&lt;&lt;[-] word</c> from <paramref name="i"/> (the first '&lt;') and queues it; returns the index of
    /// its last character, or <paramref name="end"/> with <paramref name="unjudgeable"/> set.
    /// </summary>
    public static int ReadOperator(string script, int i, int end, List<PendingHereDocument> pending, out string? unjudgeable)
    {
        unjudgeable = null;
        var j = i + 2;
        var stripTabs = j < end && script[j] == '-';
        if (stripTabs)
        {
            j++;
        }

        while (j < end && script[j] is ' ' or '\t')
        {
            j++;
        }

        var word = new StringBuilder();
        var quoted = false;
        for (; j < end; j++)
        {
            var c = script[j];
            if (c is ' ' or '\t' or '\r' or '\n' or ';' or '&' or '|' or '(' or ')' or '<' or '>')
            {
                break;
            }

            if (c == '\\' && j + 1 < end)
            {
                quoted = true;
                word.Append(script[++j]);
            }
            else if (c is '\'' or '"')
            {
                var close = script.IndexOf(c, j + 1, end - j - 1);
                if (close < 0)
                {
                    unjudgeable = "a here-document delimiter with an unterminated quote";
                    return end;
                }

                quoted = true;
                word.Append(script, j + 1, close - j - 1);
                j = close;
            }
            else if (c is '$' or '`')
            {
                unjudgeable = "a here-document delimiter with an expansion in it";
                return end;
            }
            else
            {
                word.Append(c);
            }
        }

        if (word.Length == 0)
        {
            unjudgeable = "a here-document operator without a delimiter";
            return end;
        }

        pending.Add(new PendingHereDocument(word.ToString(), quoted, stripTabs));
        return j - 1;
    }

    /// <summary>
    /// Skips the bodies of <paramref name="pending"/>, in order, from the line after the newline at
    /// <paramref name="newline"/>; returns the index of the last character skipped. A body with no terminator
    /// runs to the end, as in bash. One pass over the text.
    /// </summary>
    public static int SkipBodies(string script, int newline, int end, List<PendingHereDocument> pending, out string? unjudgeable)
    {
        unjudgeable = null;
        var position = newline + 1;
        foreach (var document in pending)
        {
            var bodyStart = position;
            var bodyEnd = end;
            while (position < end)
            {
                var lineEnd = script.IndexOf('\n', position, end - position);
                lineEnd = lineEnd < 0 ? end : lineEnd;
                var line = script.AsSpan(position, lineEnd - position);
                if (document.StripTabs)
                {
                    line = line.TrimStart('\t');
                }

                var lineStart = position;
                position = Math.Min(lineEnd + 1, end);
                if (line.SequenceEqual(document.Delimiter))
                {
                    bodyEnd = lineStart;
                    break;
                }
            }

            var body = script.AsSpan(bodyStart, Math.Max(0, Math.Min(bodyEnd, end) - bodyStart));
            if (!document.Quoted && (body.Contains("$(", StringComparison.Ordinal) || body.Contains('`')))
            {
                unjudgeable ??= $"the here-document ending '{document.Delimiter}' runs a command substitution in its body";
            }
        }

        pending.Clear();
        return position - 1;
    }
}
