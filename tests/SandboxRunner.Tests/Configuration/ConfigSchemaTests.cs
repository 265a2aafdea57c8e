using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using CsCheck;
using Json.Schema;
using SandboxRunner.Configuration;

namespace SandboxRunner.Tests.Configuration;

/// <summary>The published JSON Schema of <c>.mcp-codex.json</c>: checked in, generated, and in step with the loader.</summary>
public sealed partial class ConfigSchemaTests
{
    private const string Regenerate =
        "UPDATE_CONFIG_SCHEMA=1 dotnet test tests/SandboxRunner.Tests --filter \"FullyQualifiedName~ConfigSchemaTests.Checked_in_schema_is_what_the_field_table_generates\"";

    private static readonly Lazy<JsonSchema> Schema = new(() => JsonSchema.FromText(ConfigSchema.Generate()));

    [Fact]
    public void Checked_in_schema_is_what_the_field_table_generates()
    {
        var path = Path.Combine(RepositoryRoot.Path, ConfigSchema.RepositoryPath);
        var generated = ConfigSchema.Generate();
        if (Environment.GetEnvironmentVariable("UPDATE_CONFIG_SCHEMA") == "1")
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, generated);
        }

        var checkedIn = File.Exists(path) ? File.ReadAllText(path) : "(missing)";
        Assert.True(checkedIn == generated, $"{ConfigSchema.RepositoryPath} is not what the config's field table generates; regenerate it with:\n  {Regenerate}");
    }

    [Fact]
    public void Schema_is_a_valid_draft_07_schema()
    {
        using var schema = JsonDocument.Parse(ConfigSchema.Generate());

        var result = MetaSchemas.Draft7.Evaluate(schema.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });

        Assert.True(result.IsValid, Describe(result));
    }

    [Fact]
    public void Schema_lists_exactly_the_loaders_fields_and_the_schema_key()
    {
        var properties = Properties(Root());

        Assert.Equal([ConfigLoader.SchemaKey, .. ConfigLoader.KnownFields.Order(StringComparer.Ordinal)], properties.Select(p => p.Key).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Every_field_has_a_description_and_a_type()
    {
        Assert.All(Properties(Root()), p =>
        {
            Assert.False(string.IsNullOrWhiteSpace(p.Value!["description"]?.GetValue<string>()), $"{p.Key} has no description");
            Assert.NotNull(p.Value!["type"]);
        });
    }

    [Fact]
    public void Unknown_fields_are_refused_by_the_schema_at_every_level_the_loader_refuses_them()
    {
        var root = Root();

        Assert.False(root["additionalProperties"]!.GetValue<bool>());
        Assert.False(root["properties"]!["task_limits"]!["additionalProperties"]!.GetValue<bool>());
        Assert.Equal(ConfigLoader.LimitFields.Order(StringComparer.Ordinal), Properties(root["properties"]!["task_limits"]!).Select(p => p.Key).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void An_environment_and_each_named_one_refuse_unknown_keys_in_the_schema_too()
    {
        var properties = Root()["properties"]!;

        Assert.False(properties["environment"]!["additionalProperties"]!.GetValue<bool>());
        Assert.False(properties["environments"]!["additionalProperties"]!["additionalProperties"]!.GetValue<bool>());
        Assert.Equal(
            ["base_image", "cache_keys", "dockerfile", "runtime", "setup", "setup_network", "verify", "verify_inputs", "verify_timeout_sec"],
            Properties(properties["environment"]!).Select(p => p.Key).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("default_concurrency", 1, 8)]
    [InlineData("default_timeout_sec", 10, 1800)]
    [InlineData("max_runs_retained", 1, 1000)]
    [InlineData("max_tasks_per_run", 1, 50)]
    public void Ranges_are_the_loaders(string field, int min, int max)
    {
        var schema = Root()["properties"]![field]!;

        Assert.Equal(min, schema["minimum"]!.GetValue<int>());
        Assert.Equal(max, schema["maximum"]!.GetValue<int>());
        Config.One(field, $"{min}");
        Config.One(field, $"{max}");
        Config.Refusal($"{{ \"{field}\": {min - 1} }}");
        Config.Refusal($"{{ \"{field}\": {max + 1} }}");
    }

    [Theory]
    [InlineData("resource_policy", new[] { "conservative", "normal" })]
    [InlineData("network_policy", new[] { "deny", "allow", "none" })]
    [InlineData("sandbox_mode", new[] { "read-only", "workspace-write", "danger-full-access" })]
    public void Enums_are_the_loaders(string field, string[] values)
    {
        var schema = Root()["properties"]![field]!;

        Assert.Equal(values, schema["enum"]!.AsArray().Select(v => v!.GetValue<string>()));
    }

    [Fact]
    public void Defaults_are_the_loaders()
    {
        var properties = Root()["properties"]!;

        Assert.Equal(2, properties["default_concurrency"]!["default"]!.GetValue<int>());
        Assert.Equal("conservative", properties["resource_policy"]!["default"]!.GetValue<string>());
        Assert.Equal("workspace-write", properties["sandbox_mode"]!["default"]!.GetValue<string>());
        Assert.Equal(["npm test", "npm run lint", "npx tsc --noEmit"], properties["allowed_commands"]!["default"]!.AsArray().Select(v => v!.GetValue<string>()));

        // Derived from other fields: no default a value could state.
        Assert.Null(properties["image"]!["default"]);
        Assert.Null(properties["network_allowlist"]!["default"]);
    }

    [Fact]
    public void Repositorys_own_config_validates_and_loads()
    {
        var text = File.ReadAllText(Path.Combine(RepositoryRoot.Path, RunnerConfig.FileName));

        AssertValid(text);
        ConfigLoader.Parse(text);
    }

    [Fact]
    public void The_docs_config_examples_validate_and_load()
    {
        var examples = DocsConfigExamples();

        Assert.NotEmpty(examples);
        Assert.All(examples, example =>
        {
            AssertValid(example);
            ConfigLoader.Parse(example);
        });
    }

    [Fact]
    public void The_configuration_page_documents_no_field_the_schema_lacks()
    {
        var documented = TableField().Matches(ConfigurationPage()).Select(m => m.Groups[1].Value).ToList();

        Assert.NotEmpty(documented);
        Assert.All(documented, field => Assert.Contains(field, Properties(Root()).Select(p => p.Key)));
    }

    [Fact]
    public void The_configuration_page_documents_every_field()
    {
        var documented = TableField().Matches(ConfigurationPage()).Select(m => m.Groups[1].Value).ToHashSet(StringComparer.Ordinal);

        Assert.All(Properties(Root()).Select(p => p.Key).Where(k => k != ConfigLoader.SchemaKey), field => Assert.Contains(field, documented));
    }

    [Fact]
    public void Schema_key_is_accepted_as_a_string_and_ignored()
    {
        var with = ConfigLoader.Parse("""{ "$schema": "./schema/mcp-codex.schema.json", "default_concurrency": 3 }""");

        Assert.Equal(ConfigLoader.Parse("""{ "default_concurrency": 3 }"""), with);
        Assert.DoesNotContain(ConfigLoader.SchemaKey, ConfigLoader.KnownFields);
    }

    [Theory]
    [InlineData("1")]
    [InlineData("null")]
    [InlineData("true")]
    [InlineData("[\"./schema.json\"]")]
    [InlineData("{}")]
    public void Schema_key_that_is_not_a_string_is_refused_by_both(string value)
    {
        var json = $"{{ \"$schema\": {value} }}";

        Assert.Equal("$schema", Assert.Single(Config.Refusal(json).Problems).Field);
        Assert.False(Evaluate(json).IsValid);
    }

    [Theory]
    [InlineData("""{ "concurency": 2 }""")]
    [InlineData("""{ "default_concurrency": 9 }""")]
    [InlineData("""{ "default_concurrency": "2" }""")]
    [InlineData("""{ "network_policy": "open" }""")]
    [InlineData("""{ "allowed_commands": "npm test" }""")]
    [InlineData("""{ "allowed_commands": [""] }""")]
    [InlineData("""{ "default_allowed_paths": ["../x"] }""")]
    [InlineData("""{ "default_allowed_paths": ["/etc/**"] }""")]
    [InlineData("""{ "codex_command": "co dex" }""")]
    [InlineData("""{ "image": "Ubuntu" }""")]
    [InlineData("""{ "codex_version": "latest" }""")]
    [InlineData("""{ "codex_config_overrides": ["novalue="] }""")]
    [InlineData("""{ "env_passthrough": ["HOME"] }""")]
    [InlineData("""{ "model_base_url": "ftp://x" }""")]
    [InlineData("""{ "network_allowlist": ["host:99999"] }""")]
    [InlineData("""{ "network_allowlist": null }""")]
    [InlineData("""{ "task_limits": { "max_files": 0 } }""")]
    [InlineData("""{ "task_limits": { "max_filez": 1 } }""")]
    [InlineData("""{ "task_limits": [] }""")]
    [InlineData("""{ "environment": { "base_image": "node:22", "dockerfile": "env.Dockerfile" } }""")]
    [InlineData("""{ "environment": { "setup": ["npm ci"] } }""")]
    [InlineData("""{ "environment": { "base_image": "node:22", "setup_commands": [] } }""")]
    [InlineData("""{ "environment": { "base_image": "Node 22" } }""")]
    [InlineData("""{ "environment": { "dockerfile": "../env.Dockerfile" } }""")]
    [InlineData("""{ "environment": { "dockerfile": "/env.Dockerfile" } }""")]
    [InlineData("""{ "environment": { "base_image": "node:22", "setup": [" "] } }""")]
    [InlineData("""{ "environment": { "base_image": "node:22", "setup_network": "none" } }""")]
    [InlineData("""{ "environment": { "base_image": "node:22", "cache_keys": ["../x"] } }""")]
    [InlineData("""{ "environment": null }""")]
    [InlineData("""{ "environments": { "default": { "base_image": "node:22" } } }""")]
    [InlineData("""{ "environments": { "none": { "base_image": "node:22" } } }""")]
    [InlineData("""{ "environments": { "node 22": { "base_image": "node:22" } } }""")]
    [InlineData("""{ "environments": { "node": { "setup": [] } } }""")]
    [InlineData("""{ "environments": { "node": "node:22" } }""")]
    public void What_the_loader_refuses_the_schema_refuses(string json)
    {
        Config.Refusal(json);

        Assert.False(Evaluate(json).IsValid, $"the schema accepts {json}");
    }

    [Theory]
    [InlineData(51, 1)]
    [InlineData(1, 8193)]
    public void Setup_past_its_limits_is_refused_by_both(int commands, int length)
    {
        var setup = string.Join(',', Enumerable.Repeat($"\"{new string('x', length)}\"", commands));
        var json = $$"""{ "environment": { "base_image": "node:22", "setup": [{{setup}}] } }""";

        Config.Refusal(json);

        Assert.False(Evaluate(json).IsValid);
    }

    [Fact]
    public void Whatever_the_loader_accepts_the_schema_accepts()
    {
        Generated.Config.Sample(json =>
        {
            try
            {
                ConfigLoader.Parse(json);
            }
            catch (InvalidInputException)
            {
                return;
            }

            var result = Evaluate(json);
            Assert.True(result.IsValid, $"{json}\n{Describe(result)}");
        }, iter: 3000);
    }

    private static JsonObject Root() => JsonNode.Parse(ConfigSchema.Generate())!.AsObject();

    private static IEnumerable<KeyValuePair<string, JsonNode?>> Properties(JsonNode schema) => schema["properties"]!.AsObject();

    private static EvaluationResults Evaluate(string json)
    {
        using var document = JsonDocument.Parse(json, new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        return Schema.Value.Evaluate(document.RootElement.Clone(), new EvaluationOptions { OutputFormat = OutputFormat.List });
    }

    private static void AssertValid(string json)
    {
        var result = Evaluate(json);
        Assert.True(result.IsValid, $"{json}\n{Describe(result)}");
    }

    private static string Describe(EvaluationResults result) =>
        string.Join('\n', (result.Details ?? []).Where(d => d.Errors is { Count: > 0 })
            .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation}: {e.Key}: {e.Value}")));

    /// <summary>docs/configuration.md, the page that lists every field (the README links it).</summary>
    private static string ConfigurationPage() => File.ReadAllText(Path.Combine(RepositoryRoot.Path, "docs", "configuration.md"));

    /// <summary>The <c>```json</c> blocks of the pages that show whole config files: configuration and environments.</summary>
    private static List<string> DocsConfigExamples() =>
        new[] { "configuration.md", "environments.md" }
            .SelectMany(page => JsonBlock().Matches(File.ReadAllText(Path.Combine(RepositoryRoot.Path, "docs", page))).Select(m => m.Groups[1].Value))
            .ToList();

    [GeneratedRegex(@"```json\n(.*?)\n```", RegexOptions.Singleline)]
    private static partial Regex JsonBlock();

    [GeneratedRegex(@"^\| `([a-z_]+)` \|", RegexOptions.Multiline)]
    private static partial Regex TableField();

    /// <summary>Configs built from each field's accepted and refused values, to compare the loader and the schema on.</summary>
    private static class Generated
    {
        private static readonly Gen<string> Scalar = Gen.OneOf(
            "null", "true", "false", "0", "1", "2", "8", "9", "10", "1800", "1801", "1.5", "-1", "1048576", "65536", "1024", "1099511627776",
            "\"\"", "\" \"", "\"x\"", "\"npm test\"", "\"src/**\"", "\"../x\"", "\"a/../b\"", "\"a/..\"", "\"..x/y\"", "\"/abs\"", "\"\\\\abs\"", "\"C:x\"",
            "\"deny\"", "\"allow\"", "\"none\"", "\"normal\"", "\"conservative\"", "\"read-only\"", "\"workspace-write\"", "\"danger-full-access\"",
            "\"name:tag\"", "\"Name:tag\"", "\"0.169.0\"", "\"0.169.0-alpha.1\"", "\"1.2\"", "\"k=v\"", "\"k=\"", "\"=v\"", "\"k k=v\"", "\"k=v w\"",
            "\"HOME\"", "\"FOO\"", "\"_X1\"", "\"1X\"", "\"HOMEX\"", "\"http://x\"", "\"HTTPS://x/v1\"", "\"https://\"", "\"ftp://x\"",
            "\"host\"", "\"host:443\"", "\"10.0.0.1:65535\"", "\"host:0\"", "\"-host\"", "\"a.b-c.d\"", "\"\\n\"", "\"x\\ny\"", "\"\u00e9\"");

        private static readonly Gen<string> Value = Gen.OneOf<string>(
            Scalar,
            Scalar.Array[0, 3].Select(items => $"[{string.Join(',', items)}]"),
            Gen.Select(Gen.OneOf<string>(Gen.OneOf(ConfigLoader.LimitFields.ToArray()), Gen.Const("x")), Scalar).Array[0, 3]
                .Select(ObjectOf));

        private static readonly Gen<string> EnvironmentValue = Gen.OneOf<string>(
            Scalar,
            Scalar.Array[0, 3].Select(items => $"[{string.Join(',', items)}]"),
            Gen.OneOf("\"node:22\"", "\"Node\"", "\"env.Dockerfile\"", "\"../env\"", "\"npm ci\""));

        private static readonly Gen<string> Environment = Gen.Select(Gen.OneOf("base_image", "dockerfile", "setup", "setup_network", "cache_keys", "x"), EnvironmentValue).Array[0, 4]
            .Select(ObjectOf);

        private static readonly Gen<string> Environments = Gen.Select(Gen.OneOf("node", "default", "none", "a b", ""), Environment).Array[0, 3]
            .Select(ObjectOf);

        private static readonly Gen<string> Field = Gen.OneOf<string>(
            Gen.Select(Gen.OneOf<string>(Gen.OneOf(ConfigLoader.KnownFields.ToArray()), Gen.Const("$schema")), Value).Select(f => $"\"{f.Item1}\": {f.Item2}"),
            Environment.Select(e => $"\"environment\": {e}"),
            Environments.Select(e => $"\"environments\": {e}"));

        public static readonly Gen<string> Config = Field.Array[0, 4].Select(fields => $"{{ {string.Join(", ", fields)} }}");

        private static string ObjectOf((string Name, string Value)[] properties) =>
            $"{{{string.Join(',', properties.Select(p => $"\"{p.Name}\":{p.Value}"))}}}";
    }
}

/// <summary>The repository this test assembly was built from.</summary>
internal static class RepositoryRoot
{
    public static string Path { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "SandboxRunner.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("SandboxRunner.sln not found above the test assembly.");
    }
}
