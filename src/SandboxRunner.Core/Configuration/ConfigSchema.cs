using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace SandboxRunner.Configuration;

/// <summary>
/// The JSON Schema of <c>.mcp-codex.json</c>, generated from <see cref="ConfigFieldTable"/> (the table the
/// loader reads through), so editors validate and complete the file with the loader's own fields,
/// ranges, enums and defaults. Checked in at <see cref="RepositoryPath"/>; a unit test fails when the
/// file and the generated text differ.
/// </summary>
public static class ConfigSchema
{
    /// <summary>Where the schema is checked in, relative to the repository root.</summary>
    public const string RepositoryPath = "schema/mcp-codex.schema.json";

    /// <summary>Draft-07: the newest draft every common editor's JSON support validates fully.</summary>
    public const string Draft = "http://json-schema.org/draft-07/schema#";

    private static readonly JsonSerializerOptions Output = new()
    {
        WriteIndented = true,
        IndentSize = 2,

        // A file read by people and editors, never embedded in HTML: keep '+', '<', '\'' readable in patterns.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>The schema as the checked-in file holds it: indented, '\n' line ends, a final newline.</summary>
    public static string Generate()
    {
        var body = ConfigFieldTable.Root.Schema(RunnerConfig.Default);
        var properties = (JsonObject)body["properties"]!;
        var schema = new JsonObject
        {
            ["$schema"] = Draft,
            ["title"] = RunnerConfig.FileName,
            ["description"] = "Configuration of sandbox-runner (and codex-mcp-runner) for one repository, read from its root. Unknown fields are refused; every field is optional.",
            ["type"] = "object",
            ["properties"] = new JsonObject
            {
                [ConfigLoader.SchemaKey] = new JsonObject
                {
                    ["description"] = "The address of this schema, for editors; the runner ignores it.",
                    ["type"] = "string",
                },
            },
            ["additionalProperties"] = false,
        };

        var target = (JsonObject)schema["properties"]!;
        foreach (var (name, node) in properties.ToList())
        {
            properties.Remove(name);
            target[name] = node;
        }

        return schema.ToJsonString(Output).ReplaceLineEndings("\n") + "\n";
    }
}
