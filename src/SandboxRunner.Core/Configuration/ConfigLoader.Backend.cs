using System.Text.RegularExpressions;

namespace SandboxRunner.Configuration;

/// <summary>The rules of the backend fields (issue 25).</summary>
public static partial class ConfigLoader
{
    internal static readonly IReadOnlyDictionary<string, BackendKind> Backends =
        new Dictionary<string, BackendKind> { ["docker"] = BackendKind.Docker, ["swarm"] = BackendKind.Swarm };

    internal static string? RegistryAddress(string value) =>
        RegistryPattern().IsMatch(value) ? null : "must be a registry's host[:port] (such as \"registry.example.com:5000\" or \"localhost:5000\"), without scheme or path";

    [GeneratedRegex(@"^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(:[0-9]{1,5})?\z")]
    private static partial Regex RegistryPattern();
}
