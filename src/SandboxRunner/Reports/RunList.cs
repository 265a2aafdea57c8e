using System.Text.Json.Serialization;
using SandboxRunner.Runs;

namespace SandboxRunner.Host.Reports;

/// <summary>The runs of a repository as <c>list_codex_runs</c> returns them and <c>runs --json</c> prints them.</summary>
public sealed record RunList([property: JsonPropertyName("runs")] IReadOnlyList<RunStatusView> Runs);
