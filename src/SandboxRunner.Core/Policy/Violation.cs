using System.Text.Json.Serialization;

namespace SandboxRunner.Policy;

public static class ViolationKind
{
    public const string PathNotAllowed = "path_not_allowed";
    public const string GitDirectory = "git_directory";
    public const string SymlinkEscape = "symlink_escape";
    public const string UnsafePath = "unsafe_path";
    public const string NestedRepository = "nested_repository";
    public const string CommandNotAllowed = "command_not_allowed";
    public const string CommandDenied = "command_denied";
    public const string SecretInPatch = "secret_in_patch";

    /// <summary>The task printed a passed secret in an encoded form (base64, hex, reversed) that redaction alone would not be trusted to catch.</summary>
    public const string SecretInOutput = "secret_in_output";

    /// <summary>A file in the tree that changes how git reads it (<c>.gitattributes</c>, <c>.gitmodules</c>).</summary>
    public const string GitControlFile = "git_control_file";

    /// <summary>Something the runner could not judge (a command it cannot parse, an unreadable event line, commands past the audit's bounds): never accepted.</summary>
    public const string Unjudgeable = "unjudgeable";

    /// <summary>A FIFO, socket or device in the tree.</summary>
    public const string SpecialFile = "special_file";

    /// <summary>A task limit (tree size, file count, file size, patch size, log size) was passed.</summary>
    public const string LimitExceeded = "limit_exceeded";
}

/// <summary>A rule a task broke. Any violation fails the task and marks its patch not applicable.</summary>
public sealed record Violation(
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("path"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Path,
    [property: JsonPropertyName("command"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Command,
    [property: JsonPropertyName("rule")] string Rule)
{
    public static Violation ForPath(string kind, string path, string rule) => new(kind, path, null, rule);

    public static Violation ForCommand(string kind, string command, string rule) => new(kind, null, command, rule);

    public override string ToString() => $"violation [{Kind}] {Path ?? Command}: {Rule}";
}
