using System.ComponentModel;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Cli;

namespace SandboxRunner.Host.Composition;

/// <summary>
/// What every command takes, the server (no command) and each verb: the repository and how much to log. A verb's
/// settings derive from these and add its own; the options may come before or after the verb.
/// </summary>
internal class HostSettings : CommandSettings
{
    [CommandOption("--repo <PATH>")]
    [Description("the git repository (default: the current directory)")]
    public string? Repo { get; init; }

    [CommandOption("--verbose|-v")]
    [Description("log each step to stderr, with UTC timestamps")]
    public bool Verbose { get; init; }

    public string RepoPath => Repo ?? Directory.GetCurrentDirectory();

    /// <summary>A whole number option kept as text so that a bad value is refused with the option's own rule, not a conversion error.</summary>
    protected static ValidationResult WholeNumber(string option, string? value, int min, int max, string rule, out int? number)
    {
        number = null;
        if (value is null)
        {
            return ValidationResult.Success();
        }

        if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max)
        {
            number = n;
            return ValidationResult.Success();
        }

        return ValidationResult.Error($"{option}: must be {rule} (got '{value}')");
    }
}

/// <summary>The settings of a verb whose result can be printed as the MCP tool returns it.</summary>
internal class JsonSettings : HostSettings
{
    [CommandOption("--json")]
    [Description("print the result to stdout as JSON, exactly as the MCP tool returns it")]
    public bool Json { get; init; }
}
