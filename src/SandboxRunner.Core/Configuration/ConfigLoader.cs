using System.Text.Json;
using System.Text.RegularExpressions;

namespace SandboxRunner.Configuration;

/// <summary>
/// Reads <c>.mcp-codex.json</c>. Hand-walks the JSON instead of deserializing so that every problem in the
/// file is reported at once, each naming its field and the rule it broke.
/// </summary>
public static partial class ConfigLoader
{
    /// <summary>Variables the runner sets itself inside a task container; passing them through would break it.</summary>
    internal static readonly IReadOnlySet<string> ReservedEnvNames =
        new HashSet<string>(StringComparer.Ordinal) { "CODEX_HOME", "HOME", "PATH", "USER" };

    public static async Task<RunnerConfig> LoadAsync(string repoRoot, CancellationToken cancellationToken)
    {
        var path = Path.Combine(repoRoot, RunnerConfig.FileName);
        if (!File.Exists(path))
        {
            return RunnerConfig.Default;
        }

        var text = await File.ReadAllTextAsync(path, cancellationToken);
        return Parse(text, RunnerConfig.FileName);
    }

    /// <summary>How the file is read: comments and trailing commas allowed, as editors write them.</summary>
    private static readonly JsonReaderOptions ReaderOptions = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    public static RunnerConfig Parse(string json, string source = RunnerConfig.FileName)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = ReaderOptions.CommentHandling, AllowTrailingCommas = ReaderOptions.AllowTrailingCommas });
        }
        catch (JsonException e)
        {
            throw new InvalidInputException(source, "(file)", $"must be valid JSON ({e.Message})");
        }

        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidInputException(source, "(file)", "must be a JSON object");
            }

            if (DuplicateKeys.Find(System.Text.Encoding.UTF8.GetBytes(json), ReaderOptions) is { Count: > 0 } repeated)
            {
                throw new InvalidInputException(source, repeated);
            }

            var reader = new FieldReader();
            RunnerConfig config;
            try
            {
                config = Read(document.RootElement, reader);
            }
            catch (InvalidOperationException e)
            {
                // Valid JSON whose strings do not decode (an unpaired surrogate escape such as "\ud800").
                throw new InvalidInputException(source, "(file)", $"must hold only valid text ({e.Message})");
            }

            if (reader.Problems.Count > 0)
            {
                throw new InvalidInputException(source, reader.Problems);
            }

            return config;
        }
    }

    /// <summary>The key editors read the schema's address from (<c>"$schema": "./schema/mcp-codex.schema.json"</c>); accepted and ignored.</summary>
    public const string SchemaKey = "$schema";

    private static RunnerConfig Read(JsonElement root, FieldReader r)
    {
        var config = RunnerConfig.Default;
        foreach (var property in root.EnumerateObject())
        {
            if (property.Name == SchemaKey)
            {
                if (property.Value.ValueKind != JsonValueKind.String)
                {
                    r.Problems.Add(new Problem(SchemaKey, "must be a string (the address of the JSON Schema editors validate this file with)"));
                }

                continue;
            }

            if (ConfigFieldTable.Root.TryGet(property.Name, out var field))
            {
                config = field.Apply(config, property.Value, property.Name, r);
            }
            else
            {
                r.Problems.Add(new Problem(property.Name, FieldNames.Unknown(property.Name, KnownFields)));
            }
        }

        return config;
    }

    internal static string[] KnownFields => [.. ConfigFieldTable.Root.Names];

    internal static string[] LimitFields => [.. ConfigFieldTable.TaskLimits.Names];

    internal static readonly IReadOnlyDictionary<string, ResourcePolicy> ResourcePolicies =
        new Dictionary<string, ResourcePolicy> { [ResourcePolicyNames.Conservative] = ResourcePolicy.Conservative, [ResourcePolicyNames.Normal] = ResourcePolicy.Normal };

    internal static readonly IReadOnlyDictionary<string, CommandPolicyMode> CommandPolicies =
        new Dictionary<string, CommandPolicyMode> { ["enforce"] = CommandPolicyMode.Enforce, ["audit"] = CommandPolicyMode.Audit };

    internal static readonly IReadOnlyDictionary<string, TransportPolicy> TransportPolicies =
        new Dictionary<string, TransportPolicy> { ["auto"] = TransportPolicy.Auto, ["bind"] = TransportPolicy.Bind, ["copy"] = TransportPolicy.Copy };

    internal static readonly IReadOnlyDictionary<string, NetworkPolicy> NetworkPolicies =
        new Dictionary<string, NetworkPolicy> { ["deny"] = NetworkPolicy.Deny, ["allow"] = NetworkPolicy.Allow, ["none"] = NetworkPolicy.None };

    internal static readonly IReadOnlyDictionary<string, SandboxMode> SandboxModes = new Dictionary<string, SandboxMode>
    {
        ["read-only"] = SandboxMode.ReadOnly,
        ["workspace-write"] = SandboxMode.WorkspaceWrite,
        ["danger-full-access"] = SandboxMode.DangerFullAccess,
    };

    /// <summary>A rule for one string value: null when it holds, else the rule it broke.</summary>
    internal delegate string? StringRule(string value);

    internal static string? NonBlank(string value) =>
        IsBlank(value) ? "must not be empty" : null;

    /// <summary>
    /// Nothing but whitespace as ECMA-262 counts it, the dialect of the schemas' <c>\S</c>: .NET's
    /// <see cref="char.IsWhiteSpace(char)"/> less U+0085, plus U+FEFF. So the published patterns say exactly this rule.
    /// </summary>
    internal static bool IsBlank(string value) => value.All(c => c == '\uFEFF' || (c != '\u0085' && char.IsWhiteSpace(c)));

    internal static string? SingleWord(string value) =>
        string.IsNullOrWhiteSpace(value) || value.Any(char.IsWhiteSpace) ? "must be one non-empty word with no spaces" : null;

    internal static string? RelativePattern(string value)
    {
        if (IsBlank(value))
        {
            return "must not be empty";
        }

        if (value.StartsWith('/') || value.StartsWith('\\') || (value.Length > 1 && value[1] == ':'))
        {
            return "must be relative to the repository root";
        }

        return value.Split('/', '\\').Contains("..") ? "must not contain a '..' segment" : null;
    }

    /// <summary>An <c>extra_ca_certs</c> entry: <c>host</c>, or the path of a PEM file (absolute, or relative to the repository root).</summary>
    internal static string? CaCertEntry(string value) =>
        string.IsNullOrWhiteSpace(value) ? "must be \"host\" or the path of a PEM file of certificates"
        : value.Replace('\\', '/').Split('/').Contains("..") ? "must not contain a '..' segment; name the file by its absolute path"
        : null;

    /// <summary>A path pattern: relative, as <see cref="RelativePattern"/>, with braces the matcher can be given (see <see cref="Configuration.GlobPatterns"/>).</summary>
    internal static string? PathPattern(string value) => RelativePattern(value) ?? Configuration.GlobPatterns.Problem(value);

    internal static string? ImageReference(string value) =>
        ImageReferencePattern().IsMatch(value) ? null : "must be a Docker image reference such as 'name:tag' (lowercase, no spaces)";

    internal static string? Version(string value) =>
        VersionPattern().IsMatch(value) ? null : "must be a version such as '0.169.0'";

    internal static string? KeyValue(string value)
    {
        var eq = value.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0 || eq == value.Length - 1)
        {
            return "each entry must be 'key=value' with a non-empty key and value";
        }

        return value[..eq].Any(char.IsWhiteSpace) || value.Contains('\n', StringComparison.Ordinal)
            ? "each entry must be 'key=value' on one line with no spaces in the key"
            : null;
    }

    internal static string? EnvName(string value)
    {
        if (!EnvNamePattern().IsMatch(value))
        {
            return "each entry must be an environment variable name ([A-Za-z_][A-Za-z0-9_]*)";
        }

        return ReservedEnvNames.Contains(value) ? $"'{value}' is set by the runner and cannot be passed through" : null;
    }

    internal static string? HttpUrl(string value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps) && !value.Any(char.IsWhiteSpace)
            ? null
            : "must be an absolute http:// or https:// URL";

    internal static string? HostPort(string value) =>
        HostPortPattern().IsMatch(value) ? null : "each entry must be 'host' or 'host:port' (a DNS name or IPv4 address, port 1-65535)";

    [GeneratedRegex(@"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*(:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?\z")]
    private static partial Regex HostPortPattern();

    [GeneratedRegex(@"^[a-z0-9][a-z0-9._/:@-]*\z")]
    private static partial Regex ImageReferencePattern();

    [GeneratedRegex(@"^[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?\z")]
    private static partial Regex VersionPattern();

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]*\z")]
    private static partial Regex EnvNamePattern();

    /// <summary>Typed reads that record a problem and return null instead of throwing.</summary>
    internal sealed class FieldReader
    {
        public List<Problem> Problems { get; } = [];

        public int? Int(string field, JsonElement v, int min, int max)
        {
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out var n))
            {
                Problems.Add(new Problem(field, $"must be a whole number from {min} to {max}"));
                return null;
            }

            if (n < min || n > max)
            {
                Problems.Add(new Problem(field, $"must be from {min} to {max} (got {n})"));
                return null;
            }

            return n;
        }

        public long? Long(string field, JsonElement v, long min, long max)
        {
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out var n) || n < min || n > max)
            {
                Problems.Add(new Problem(field, $"must be a whole number from {min} to {max}"));
                return null;
            }

            return n;
        }

        public bool? Bool(string field, JsonElement v)
        {
            if (v.ValueKind is JsonValueKind.True or JsonValueKind.False)
            {
                return v.GetBoolean();
            }

            Problems.Add(new Problem(field, "must be true or false"));
            return null;
        }

        public string? String(string field, JsonElement v, StringRule rule)
        {
            if (v.ValueKind != JsonValueKind.String)
            {
                Problems.Add(new Problem(field, "must be a string"));
                return null;
            }

            var s = v.GetString()!;
            var broken = rule(s);
            if (broken is not null)
            {
                Problems.Add(new Problem(field, broken));
                return null;
            }

            return s;
        }

        public T? Enum<T>(string field, JsonElement v, IReadOnlyDictionary<string, T> values)
            where T : struct
        {
            if (v.ValueKind == JsonValueKind.String && values.TryGetValue(v.GetString()!, out var value))
            {
                return value;
            }

            Problems.Add(new Problem(field, $"must be one of {string.Join(", ", values.Keys.Select(k => $"\"{k}\""))}"));
            return null;
        }

        public IReadOnlyList<string>? StringList(string field, JsonElement v, StringRule rule)
        {
            if (v.ValueKind != JsonValueKind.Array)
            {
                Problems.Add(new Problem(field, "must be an array of strings"));
                return null;
            }

            var list = new List<string>();
            var index = 0;
            var ok = true;
            foreach (var item in v.EnumerateArray())
            {
                var s = String($"{field}[{index}]", item, rule);
                ok &= s is not null;
                if (s is not null)
                {
                    list.Add(s);
                }

                index++;
            }

            return ok ? list : null;
        }
    }
}
