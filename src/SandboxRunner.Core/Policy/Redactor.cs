using System.Text.RegularExpressions;

namespace SandboxRunner.Policy;

/// <summary>
/// Removes secrets from everything the runner returns or writes to its logs (the patch excepted: changing a
/// patch breaks it, so a patch holding a known secret is a violation instead). Replacements never add or
/// remove quotes or backslashes, so a redacted JSONL line is still valid JSON.
/// </summary>
public sealed partial class Redactor
{
    public const string Mask = "[REDACTED]";

    /// <summary>Values shorter than this are not masked literally: masking "1" or "true" would erase the logs.</summary>
    private const int MinLiteralLength = 6;

    private readonly KeyValuePair<string, string>[] _known;
    private readonly string[] _literals;

    /// <param name="knownSecrets">Named values to mask wherever they appear: the variables passed into a container.</param>
    public Redactor(IEnumerable<KeyValuePair<string, string>> knownSecrets)
    {
        _known = knownSecrets.Where(kv => kv.Value.Length >= MinLiteralLength).OrderByDescending(kv => kv.Value.Length).ToArray();
        _literals = _known.Select(kv => kv.Value).Distinct().ToArray();
    }

    public static Redactor None { get; } = new([]);

    public string Redact(string text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return text;
        }

        foreach (var literal in _literals)
        {
            text = text.Replace(literal, Mask, StringComparison.Ordinal);
        }

        text = PemPrivateKey().Replace(text, Mask);
        text = OpenAiKey().Replace(text, Mask);
        text = GitHubToken().Replace(text, Mask);
        text = AwsAccessKey().Replace(text, Mask);
        text = Bearer().Replace(text, "${scheme}" + Mask);
        text = JsonSecretField().Replace(text, "${head}" + Mask);
        text = Assignment().Replace(text, "${name}${eq}" + Mask);
        return text;
    }

    /// <summary>The name of a known secret whose value <paramref name="text"/> holds, or null.</summary>
    public string? FindKnownSecret(string text) =>
        _known.FirstOrDefault(kv => text.Contains(kv.Value, StringComparison.Ordinal)).Key;

    [GeneratedRegex(@"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----")]
    private static partial Regex PemPrivateKey();

    [GeneratedRegex(@"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}")]
    private static partial Regex OpenAiKey();

    [GeneratedRegex(@"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})")]
    private static partial Regex GitHubToken();

    [GeneratedRegex(@"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b")]
    private static partial Regex AwsAccessKey();

    [GeneratedRegex(@"(?<scheme>\bBearer\s+)[A-Za-z0-9._~+/=-]{6,}", RegexOptions.IgnoreCase)]
    private static partial Regex Bearer();

    /// <summary><c>"api_key": "…"</c>, also when the JSON itself sits escaped inside a JSON string.</summary>
    [GeneratedRegex(@"(?<head>\\?""[A-Za-z0-9_-]*(?:api[_-]?key|apikey|token|secret|password|passwd)\\?""\s*:\s*\\?"")[^""\\]+", RegexOptions.IgnoreCase)]
    private static partial Regex JsonSecretField();

    /// <summary><c>NAME=value</c> where the name ends in KEY, TOKEN, SECRET or PASSWORD, in any case.</summary>
    [GeneratedRegex(@"(?<name>\b[A-Za-z0-9_]*(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD))(?<eq>\s*=\s*)(?!\[REDACTED\])[^\s""'\\;&|]+", RegexOptions.IgnoreCase)]
    private static partial Regex Assignment();
}
