using System.Text.Json;

namespace SandboxRunner.Configuration;

public static partial class ConfigLoader
{
    internal static readonly IReadOnlyDictionary<string, AuthMethod> AuthMethods = new Dictionary<string, AuthMethod>
    {
        ["auto"] = AuthMethod.Auto,
        ["api_key"] = AuthMethod.ApiKey,
        ["chatgpt"] = AuthMethod.ChatGpt,
    };

    /// <summary>
    /// An http(s) URL the egress proxy's nginx config can quote: no query or fragment, and none of the characters
    /// nginx reads as syntax or variables inside a quoted string.
    /// </summary>
    internal static string? UpstreamUrl(string value) =>
        HttpUrl(value) ?? (Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Query.Length == 0 && uri.Fragment.Length == 0
                           && !value.Any(c => c is '"' or '\\' or '$' or ';' or '{' or '}' or '\'' || char.IsControl(c))
            ? null
            : "must be an http:// or https:// URL without a query, a fragment, quotes, '$', ';' or braces");

    /// <summary>
    /// What a repository's config may name as the ChatGPT backend: ChatGPT's own (https, chatgpt.com or a
    /// subdomain such as gov.chatgpt.com). The proxy sends the user's whole-account token there, so a cloned
    /// repository must not be able to redirect it; any other backend (a test's) comes from the host's
    /// environment, <c>SANDBOX_RUNNER_CHATGPT_BASE_URL</c>.
    /// </summary>
    internal static string? ChatGptBackendUrl(string value) =>
        UpstreamUrl(value) ?? (Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme == Uri.UriSchemeHttps
                               && (uri.Host == "chatgpt.com" || uri.Host.EndsWith(".chatgpt.com", StringComparison.Ordinal))
            ? null
            : "must be an https:// URL on chatgpt.com (the proxy sends the ChatGPT token there); point a run at another backend with SANDBOX_RUNNER_CHATGPT_BASE_URL in the server's environment");
}
