using System.Text;
using System.Text.RegularExpressions;

namespace SandboxRunner.Boxes.Docker;

/// <summary>
/// What the runner and the egress proxy image (images/egress-proxy) say to each other: the secrets it reads from its
/// standard input, and the access log it writes, from which refused hosts are reported.
/// </summary>
internal static partial class ProxyProtocol
{
    /// <summary>
    /// What the proxy reads from its standard input: <c>name=value</c> lines ending with a line holding one dot
    /// (images/egress-proxy/entrypoint.sh). A value goes into an nginx header verbatim, so one that could end
    /// the header or name an nginx variable is refused here rather than carried.
    /// </summary>
    public static byte[] Secrets(EgressSpec egress) => Encode(egress, run: false);

    /// <summary>
    /// All a gateway made ahead of its run learns of the run, on its standard input at hand-over: the allowlist and
    /// the model route (refused when a value could end its line or a squid/nginx directive), then the secrets.
    /// </summary>
    public static byte[] Handover(EgressSpec egress) => Encode(egress, run: true);

    private static byte[] Encode(EgressSpec egress, bool run)
    {
        var lines = new StringBuilder();
        void Add(string name, string? value)
        {
            if (string.IsNullOrEmpty(value))
            {
                return;
            }

            if (!value.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '~' or '+' or '/' or '=' or ':'))
            {
                throw new InvalidOperationException(
                    $"the model credential ({name.Replace('_', ' ')}) holds a character the egress proxy cannot carry in a header (it takes letters, digits and -_.~+/=:); check the variable or auth.json it came from");
            }

            lines.Append(name).Append('=').Append(value).Append('\n');
        }

        void Plain(string name, string? value)
        {
            if (string.IsNullOrEmpty(value))
            {
                return;
            }

            if (value.Any(c => char.IsControl(c) || c is '"' or '\'' or '\\' or ';' or '{' or '}' or '$' or '#'))
            {
                throw new InvalidOperationException(
                    $"the egress proxy's {name.Replace('_', ' ')} '{value}' holds a character it cannot carry into its configuration; check network_allowlist and model_base_url");
            }

            lines.Append(name).Append('=').Append(value).Append('\n');
        }

        if (run)
        {
            if (egress.Allowlist.FirstOrDefault(entry => entry.Length == 0 || entry.Any(char.IsWhiteSpace)) is { } bad)
            {
                throw new InvalidOperationException($"the network allowlist entry '{bad}' is empty or holds white space; name a host or host:port");
            }

            Plain("allow", string.Join(' ', egress.Allowlist));
            Plain("model_upstream", egress.Route.Upstream);
            if (egress.Route.ChatGpt is { } chatGpt)
            {
                Plain("model_auth", "chatgpt");
                Plain("chatgpt_fedramp", chatGpt.Fedramp ? "true" : null);
            }
        }

        Add("model_key", egress.Route.Credential);
        Add("chatgpt_account_id", egress.Route.ChatGpt?.AccountId);
        lines.Append(".\n");
        return Encoding.UTF8.GetBytes(lines.ToString());
    }

    /// <summary>squid's native access log in the proxy container, written unbuffered (its copy on stdout may lag).</summary>
    public const string AccessLog = "/run/sandbox-proxy/access.log";

    /// <summary>
    /// Reads squid's native access log: <c>time elapsed client TCP_DENIED/403 size METHOD URL ...</c>;
    /// a CONNECT names <c>host:port</c>, a plain request a URL. Distinct hosts in first-refused order, at most
    /// 200: the agent chooses what it asks for, and a report of the first few hundred says all a reader needs.
    /// </summary>
    public static IReadOnlyList<string> ParseRefused(string log, string client, DateTimeOffset since)
    {
        const int MaxHosts = 200;
        var hosts = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var known = seen.GetAlternateLookup<ReadOnlySpan<char>>();
        var from = since.ToUnixTimeMilliseconds() / 1000.0 - 1;
        var text = log.AsSpan();
        foreach (var range in text.Split('\n'))
        {
            var target = RefusedTarget(text[range], client, from);
            if (target.IsEmpty || known.Contains(target))
            {
                continue;
            }

            var host = target.ToString();
            seen.Add(host);
            hosts.Add(host);
            if (hosts.Count == MaxHosts)
            {
                break;
            }
        }

        return hosts;
    }

    /// <summary>The host a log line says was refused to <paramref name="client"/> at or after <paramref name="from"/>, or empty.</summary>
    private static ReadOnlySpan<char> RefusedTarget(ReadOnlySpan<char> line, string client, double from)
    {
        // Only the first seven fields matter; the rest of a line is never split.
        Span<Range> fields = stackalloc Range[7];
        var count = 0;
        foreach (var field in line.Split(' '))
        {
            if (line[field].IsEmpty)
            {
                continue;
            }

            fields[count++] = field;
            if (count == fields.Length)
            {
                break;
            }
        }

        if (count < fields.Length || !line[fields[2]].SequenceEqual(client) || !line[fields[3]].StartsWith("TCP_DENIED/", StringComparison.Ordinal)
            || !double.TryParse(line[fields[0]], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var time) || time < from)
        {
            return [];
        }

        var url = line[fields[6]];
        if (line[fields[5]].SequenceEqual("CONNECT"))
        {
            return url;
        }

        foreach (var match in UrlHost().EnumerateMatches(url))
        {
            // The match is scheme://host, and a scheme holds no ':', so the host follows the first "://".
            var scheme = url.Slice(match.Index, match.Length);
            return scheme[(scheme.IndexOf("://", StringComparison.Ordinal) + 3)..];
        }

        return url;
    }

    [GeneratedRegex(@"^[a-z]+://([^/]+)")]
    private static partial Regex UrlHost();
}
