using System.Text.RegularExpressions;

namespace SandboxRunner.Tests.Architecture;

/// <summary>
/// A layer rule: no namespace matching <see cref="From"/> may use one matching <see cref="Forbidden"/>. Both are
/// regular expressions over namespaces without the <c>SandboxRunner.</c> prefix, matched whole.
/// </summary>
public sealed record LayerRule(string Name, string From, string Forbidden, string Fix)
{
    /// <summary>Types (by name, as the graph's "X uses Y" pairs give them) that may make a forbidden arrow: a composition point.</summary>
    public IReadOnlyList<string> AllowedUsers { get; init; } = [];

    /// <summary>The pairs of an arrow that break this rule: all of them but those an allowed user makes.</summary>
    public IReadOnlyList<string> Breaking(IReadOnlyList<string> pairs) =>
        pairs.Where(p => p.IndexOf(" uses ", StringComparison.Ordinal) is var at && (at < 0 || !AllowedUsers.Contains(p[..at]))).ToList();

    public bool Forbids(Arrow arrow) =>
        Regex.IsMatch(arrow.From, $"^(?:{From})$") && Regex.IsMatch(arrow.To, $"^(?:{Forbidden})$");
}

/// <summary>
/// An arrow that breaks a rule today and is being removed: the test passes while it exists and fails once it is
/// gone, so the list only shrinks (delete the line when your branch removes the arrow).
/// </summary>
public sealed record LayerException(Arrow Arrow, string RemovedBy);

/// <summary>The layers of docs/architecture.md and /work/notes/seam-design.md ("Layers"), as rules the graph is checked against.</summary>
public static class LayerRules
{
    /// <summary>A namespace and everything under it: <c>Runs</c> covers <c>Runs.Transports</c>.</summary>
    private static string Tree(string ns) => $@"{ns}(\..+)?";

    /// <summary>Any of our namespaces but these trees.</summary>
    private static string AnyBut(params string[] trees) => $@"(?!(?:{string.Join("|", trees)})(\.|$)).+";

    /// <summary>
    /// Today's engine layer is <c>Sandbox</c>; the seam renames it <c>Boxes</c> with one folder per backend
    /// (<c>Boxes.Docker</c>): the rule covers every name, so it holds across the rename.
    /// </summary>
    private const string EngineLayer = "Sandbox|Boxes";

    public static readonly LayerRule ConfigurationImportsNothingInternal = new(
        "Configuration imports nothing internal",
        Tree("Configuration"),
        AnyBut("Configuration"),
        "move the type Configuration needs into Configuration (a setting's own type belongs to the settings), or let the caller pass a plain value in");

    public static readonly LayerRule PlatformImportsNothingInternal = new(
        "Platform imports nothing internal",
        Tree("Platform"),
        AnyBut("Platform"),
        "Platform holds helpers every layer may use (files, owners, text caps); give it a parameter instead of the caller's type");

    public static readonly LayerRule EngineLayerUsesOnlyPlatform = new(
        "the engine layer (Sandbox, Boxes and every Boxes.<backend>) uses only Platform",
        Tree(EngineLayer),
        AnyBut(EngineLayer, "Platform"),
        "say what a box needs in the seam's own types (BoxSpec, ResourceLimits, NetworkIntent) and let Runs translate config and plans into them");

    public static readonly LayerRule EnvironmentsNeverImportsRuns = new(
        "Environments never imports Runs",
        Tree("Environments"),
        Tree("Runs"),
        "move what Environments needs into Environments or a lower folder, or invert the call with a small interface Runs implements");

    public static readonly LayerRule EnvironmentsUsesOnlyTheSeam = new(
        "Environments uses the seam (Boxes), never a backend (Boxes.<backend>)",
        Tree("Environments"),
        @"Boxes\..+",
        "take the ITaskBackend, IRunSite, ITaskBox or IBoxImages the run hands in; if the seam lacks an operation environments need, add it to the seam, every backend and the backend contract");

    public static readonly LayerRule OnlyTheFactoryNamesTheDockerBackend = new(
        "nothing above the backends names a Docker type but the composition point (BackendFactory); another backend folder may build on Docker's",
        AnyBut(@"Boxes\.[A-Za-z]+"),
        Tree(@"Boxes\.Docker"),
        "take the ITaskBackend, IRunSite, ITaskBox or IBoxImages the composition hands in (BackendFactory makes the backend); what Docker alone needs stays internal to Boxes/Docker")
    {
        AllowedUsers = ["BackendFactory"],
    };

    public static readonly LayerRule GitNeverImportsEngineOrRuns = new(
        "Git never imports the engine layer or Runs",
        Tree("Git"),
        Tree($"{EngineLayer}|Runs"),
        "Git works on trees and refs only; let Runs pass the paths and values in (the sandbox knows nothing of git, the run composes both)");

    public static readonly LayerRule LibraryNeverImportsHost = new(
        "the library never imports the host",
        AnyBut("Host"),
        Tree("Host"),
        "move the type down into SandboxRunner.Core; the host (src/SandboxRunner) adapts the library, never the reverse");

    public static readonly LayerRule VerbsNeverImportMcp = new(
        "the host's verbs (Commands) never import its MCP tools (Mcp)",
        Tree("Host.Commands"),
        Tree("Host.Mcp"),
        "move the shared code into a third host folder (the composition root, Reports) or down into the library");

    public static readonly LayerRule McpNeverImportsVerbs = new(
        "the host's MCP tools (Mcp) never import its verbs (Commands)",
        Tree("Host.Mcp"),
        Tree("Host.Commands"),
        "move the shared code into a third host folder (the composition root, Reports) or down into the library");

    public static IReadOnlyList<LayerRule> All { get; } =
    [
        ConfigurationImportsNothingInternal, PlatformImportsNothingInternal, EngineLayerUsesOnlyPlatform, EnvironmentsNeverImportsRuns, EnvironmentsUsesOnlyTheSeam,
        OnlyTheFactoryNamesTheDockerBackend, GitNeverImportsEngineOrRuns, LibraryNeverImportsHost, VerbsNeverImportMcp, McpNeverImportsVerbs,
    ];

    /// <summary>
    /// Today's violations (main at 18ec176, 2026-12-07), each with who removes it. A stale line fails
    /// <see cref="LayerTests.Every_listed_exception_still_occurs"/>: delete it in the branch that removes the arrow.
    /// </summary>
    public static IReadOnlyList<LayerException> Exceptions { get; } =
    [
    ];
}
