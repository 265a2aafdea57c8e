using System.Text;
using System.Text.RegularExpressions;

namespace SandboxRunner.Configuration;

/// <summary>The rules of the <c>environment</c> section and the <c>environments</c> map (issue 11).</summary>
public static partial class ConfigLoader
{
    public const int MaxSetupCommands = 50;
    public const int MaxSetupCommandBytes = 8 * 1024;
    public const int MaxCacheKeys = 50;

    internal static readonly IReadOnlyDictionary<string, SetupNetwork> SetupNetworks =
        new Dictionary<string, SetupNetwork> { ["allow"] = SetupNetwork.Allow, ["deny"] = SetupNetwork.Deny };

    internal static string? SetupCommand(string value) =>
        NonBlank(value) ?? (Encoding.UTF8.GetByteCount(value) > MaxSetupCommandBytes
            ? $"must be at most {MaxSetupCommandBytes} bytes (8 KiB); put a longer setup in a script in the repository and run that"
            : null);

    internal static string? EnvironmentName(string value) => value switch
    {
        RunnerConfig.DefaultEnvironment =>
            "is reserved: 'default' is the name the environment section is known by; put this environment there, or give it another name",
        RunnerConfig.NoEnvironment => "is reserved: 'none' means the plain Codex image, with no environment; give this environment another name",
        _ when !EnvironmentNamePattern().IsMatch(value) => "must be a name of 1-64 letters, digits, '.', '_' or '-'",
        _ => null,
    };

    /// <summary>The environment names exactly one image source: a base image or a Dockerfile, never both or neither.</summary>
    internal static string? OneImageSource(EnvironmentSpec environment) => (environment.BaseImage, environment.Dockerfile) switch
    {
        (not null, not null) => "sets both base_image and dockerfile; keep one: base_image (an image that has the toolchain) or dockerfile (a Dockerfile in the repository)",
        (null, null) => "must set one of base_image (an image that has the toolchain, such as \"node:22-bookworm\") and dockerfile (a Dockerfile in the repository)",
        _ => null,
    };

    [GeneratedRegex(@"^[A-Za-z0-9._-]{1,64}\z")]
    private static partial Regex EnvironmentNamePattern();
}
