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
    private readonly (string Name, string Encoding, string Value)[] _encoded;
    private readonly string[] _literals;

    /// <param name="knownSecrets">Named values to mask wherever they appear: the variables passed into a container.</param>
    public Redactor(IEnumerable<KeyValuePair<string, string>> knownSecrets)
    {
        _known = knownSecrets.Where(kv => kv.Value.Length >= MinLiteralLength).OrderByDescending(kv => kv.Value.Length).ToArray();

        // Simple encodings an agent would use to carry a value out past a literal match: masked like the
        // value, and a result holding one is flagged (FindEncodedSecret), since no honest task prints them.
        _encoded = _known.SelectMany(kv => Encodings(kv.Value).Select(e => (kv.Key, e.Encoding, e.Value))).ToArray();

        // A value is also masked in the escaped forms it takes inside JSON and inside JSON within JSON.
        _literals = _known
            .SelectMany(kv => new[] { kv.Value, JsonEscaped(kv.Value), JsonEscaped(JsonEscaped(kv.Value)) })
            .Concat(_encoded.Select(e => e.Value))
            .Distinct()
            .OrderByDescending(v => v.Length)
            .ToArray();
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
        text = EscapedJsonSecretField().Replace(text, "${head}" + Mask);
        text = Assignment().Replace(text, m =>
        {
            var value = m.Groups["value"].Value;
            var open = value.StartsWith("\\\"", StringComparison.Ordinal) ? "\\\"" : value.StartsWith('"') ? "\"" : value.StartsWith('\'') ? "'" : "";
            var close = open.Length > 0 && value.Length >= 2 * open.Length && value.EndsWith(open, StringComparison.Ordinal) ? open : "";
            return value.Contains(Mask, StringComparison.Ordinal) ? m.Value : m.Groups["name"].Value + m.Groups["eq"].Value + open + Mask + close;
        });
        return text;
    }

    /// <summary>The name of a known secret whose value (or a simple encoding of it) <paramref name="text"/> holds, or null.</summary>
    public string? FindKnownSecret(string text) =>
        _known.FirstOrDefault(kv => text.Contains(kv.Value, StringComparison.Ordinal)).Key ?? FindEncodedSecret(text);

    /// <summary>A known secret that <paramref name="text"/> holds encoded (base64, hex, reversed), as "NAME (encoding)", or null.</summary>
    public string? FindEncodedSecret(string text) =>
        _encoded.FirstOrDefault(e => text.Contains(e.Value, StringComparison.Ordinal)) is { Name: not null } hit ? $"{hit.Name} ({hit.Encoding})" : null;

    private static IEnumerable<(string Encoding, string Value)> Encodings(string value)
    {
        var bytes = System.Text.Encoding.UTF8.GetBytes(value);
        var base64 = Convert.ToBase64String(bytes);
        yield return ("base64", base64.TrimEnd('='));
        yield return ("base64url", base64.TrimEnd('=').Replace('+', '-').Replace('/', '_'));
        yield return ("hex", Convert.ToHexStringLower(bytes));
        yield return ("hex", Convert.ToHexString(bytes));
        yield return ("reversed", new string(value.Reverse().ToArray()));
    }

    private static string JsonEscaped(string value) => System.Text.Json.JsonEncodedText.Encode(value, System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping).ToString();

    // Secrets often follow a line break, which inside a JSON string is the two characters '\' 'n': a
    // plain \b finds no word boundary there, so each pattern starts after an escape or a non-word character.
    private const string Start = @"(?:(?<=\\[nrtbf])|(?<![A-Za-z0-9_]))";

    /// <summary>
    /// A private key block, or its start when the end was cut off. The body never crosses an unescaped
    /// quote, so inside JSON it stays within one string and the line stays valid.
    /// </summary>
    [GeneratedRegex(@"-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----(?:(?!-----END)(?:[^""\\]|\\[^""]))*(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----)?")]
    private static partial Regex PemPrivateKey();

    [GeneratedRegex(Start + @"sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}")]
    private static partial Regex OpenAiKey();

    [GeneratedRegex(Start + @"(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})")]
    private static partial Regex GitHubToken();

    [GeneratedRegex(Start + @"(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])")]
    private static partial Regex AwsAccessKey();

    [GeneratedRegex(Start + @"(?<scheme>Bearer\s+)[A-Za-z0-9._~+/=-]{6,}", RegexOptions.IgnoreCase)]
    private static partial Regex Bearer();

    /// <summary><c>"api_key": "…"</c>, the value read with its escapes.</summary>
    [GeneratedRegex(@"(?<head>""[A-Za-z0-9_-]*(?:api[_-]?key|apikey|token|secret|password|passwd)""\s*:\s*"")(?:[^""\\]|\\.)+", RegexOptions.IgnoreCase)]
    private static partial Regex JsonSecretField();

    /// <summary>The same field in JSON sitting escaped inside a JSON string: <c>\"api_key\": \"…\"</c>.</summary>
    [GeneratedRegex(@"(?<head>\\""[A-Za-z0-9_-]*(?:api[_-]?key|apikey|token|secret|password|passwd)\\""\s*:\s*\\"")(?:[^""\\]|\\[^""])+", RegexOptions.IgnoreCase)]
    private static partial Regex EscapedJsonSecretField();

    /// <summary><c>NAME=value</c> where the name ends in KEY, TOKEN, SECRET or PASSWORD, in any case; the value bare or quoted.</summary>
    [GeneratedRegex(Start + @"(?<name>[A-Za-z0-9_]*(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD))(?<eq>\s*=\s*)(?<value>\\""(?:[^""\\]|\\[^""])*\\""|""(?:[^""\\]|\\.)*""|'[^']*'|[^\s""'\\;&|]+)", RegexOptions.IgnoreCase)]
    private static partial Regex Assignment();
}
