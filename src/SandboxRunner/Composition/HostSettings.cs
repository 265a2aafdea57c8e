using System.ComponentModel;
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

    [CommandOption("-v|--verbose")]
    [Description("log each step to stderr, with UTC timestamps")]
    public bool Verbose { get; init; }

    public string RepoPath => Repo ?? Directory.GetCurrentDirectory();
}

/// <summary>The settings of a verb whose result can be printed as the MCP tool returns it.</summary>
internal class JsonSettings : HostSettings
{
    [CommandOption("--json")]
    [Description("print the result to stdout as JSON, exactly as the MCP tool returns it")]
    public bool Json { get; init; }
}
