namespace SandboxRunner.Codex;

/// <summary>
/// Reads Codex's own error messages about the model route. They quote the upstream's body, and when the egress
/// proxy could not reach the model API that body is nginx's whole HTML error page, five times over (one per
/// reconnect): a manager reads the page's title instead, and a note that says whose side failed.
/// </summary>
public static class ModelErrors
{
    /// <summary>The host and port Codex is pointed at under <c>deny</c> (its model base URL names the run's proxy).</summary>
    private const string ProxyRoute = "sandbox-proxy:8080";

    /// <summary>An HTML document inside <paramref name="message"/> replaced by its title; one pass, no regular expression.</summary>
    public static string Condense(string message)
    {
        var start = message.IndexOf("<html", StringComparison.OrdinalIgnoreCase);
        if (start < 0)
        {
            return message;
        }

        var end = message.IndexOf("</html>", start, StringComparison.OrdinalIgnoreCase);
        end = end < 0 ? message.Length : end + "</html>".Length;
        var page = message.AsSpan(start, end - start);
        var title = "HTML page";
        var open = page.IndexOf("<title>", StringComparison.OrdinalIgnoreCase);
        if (open >= 0)
        {
            var rest = page[(open + "<title>".Length)..];
            var close = rest.IndexOf("</title>", StringComparison.OrdinalIgnoreCase);
            if (close > 0)
            {
                title = rest[..close].Trim().ToString();
            }
        }

        return $"{message[..start]}[{title}]{message[end..]}";
    }

    /// <summary>
    /// True when Codex reports a gateway error from the run's egress proxy: the proxy took the request but got no
    /// answer from the model API, which is this machine's way out failing, not the agent and not the key.
    /// </summary>
    public static bool ProxyCouldNotReachModel(string message) =>
        message.Contains(ProxyRoute, StringComparison.Ordinal)
        && (message.Contains("502 Bad Gateway", StringComparison.Ordinal) || message.Contains("504 Gateway Time", StringComparison.Ordinal));
}
