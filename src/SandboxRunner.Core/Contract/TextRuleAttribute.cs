using System.ComponentModel.DataAnnotations;
using SandboxRunner.Configuration;
using SandboxRunner.Policy;

namespace SandboxRunner.Contract;

/// <summary>The kinds of string tool arguments take; each is one check and the JSON Schema pattern that says the same.</summary>
public enum TextKind
{
    /// <summary>A run or task id (<see cref="Ids"/>): it becomes a folder name, a label and a git ref component.</summary>
    Id,

    /// <summary>Text with something other than whitespace in it.</summary>
    NonBlank,

    /// <summary>A glob relative to the repository root, with no <c>..</c> segment (<see cref="ConfigLoader.RelativePattern"/>).</summary>
    RelativeGlob,

    /// <summary>A git revision that cannot be read as an option.</summary>
    GitRevision,

    /// <summary>An environment name: <c>default</c>, <c>none</c> or a key of the config's <c>environments</c>.</summary>
    EnvironmentName,
}

/// <summary>
/// A string rule on a tool argument. The schema publishes <see cref="RegularExpressionAttribute.Pattern"/>
/// (Microsoft.Extensions.AI maps this attribute to <c>pattern</c>); <see cref="ArgumentReader"/> runs the
/// kind's own check, which says what is wrong. Pattern and check agree on every string under ECMA-262
/// semantics (the JSON Schema dialect, where <c>$</c> is the end of the text), which a property test holds
/// them to. On a list of strings the rule holds for each item.
/// </summary>
[AttributeUsage(AttributeTargets.Property, AllowMultiple = false)]
public sealed class TextRuleAttribute(TextKind kind) : RegularExpressionAttribute(PatternOf(kind))
{
    public TextKind Kind { get; } = kind;

    /// <summary>What is wrong with <paramref name="value"/> as a <paramref name="kind"/>, or null when it holds.</summary>
    public static string? Check(TextKind kind, string value) => kind switch
    {
        TextKind.Id => Ids.IsValid(value) ? null : Ids.Rule,
        TextKind.NonBlank => ConfigLoader.NonBlank(value),
        TextKind.RelativeGlob => ConfigLoader.RelativePattern(value),
        TextKind.GitRevision => value.Length == 0 ? "must not be empty" : value.StartsWith('-') ? "must not start with '-'" : null,
        TextKind.EnvironmentName => value.Length is >= 1 and <= 64 && value.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-')
            ? null
            : "must be 1-64 letters, digits, '.', '_' or '-': 'default', 'none' or a name under the config's environments",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    public static string PatternOf(TextKind kind) => kind switch
    {
        TextKind.Id => Ids.Pattern,
        TextKind.NonBlank => @"\S",
        TextKind.RelativeGlob => ConfigFieldTable.RelativeGlob.Pattern,
        TextKind.GitRevision => "^[^-]",
        TextKind.EnvironmentName => "^[A-Za-z0-9._-]{1,64}$",
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    public override bool IsValid(object? value) => value is not string s || Check(Kind, s) is null;

    protected override ValidationResult? IsValid(object? value, ValidationContext validationContext) =>
        value is string s && Check(Kind, s) is { } broken ? new ValidationResult(broken) : ValidationResult.Success;
}
