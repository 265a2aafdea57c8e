using System.Text.RegularExpressions;

namespace SandboxRunner.Configuration;

/// <summary>The rule of a <c>runtime</c> name (issue 27); whether the engine has it is checked when a run starts.</summary>
public static partial class ConfigLoader
{
    internal static string? RuntimeName(string value) =>
        RuntimeNamePattern().IsMatch(value) ? null : "must be the name of a runtime the Docker engine lists (docker info: Runtimes), such as \"runc\" or \"runsc\": 1-64 letters, digits, '.', '_', '+' or '-'";

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}\z")]
    private static partial Regex RuntimeNamePattern();
}
