<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>
<qgis version="3.22.0" styleCategories="Symbology|Labeling">
  <renderer-v2 type="categorizedSymbol" attr="module" enableorderby="0" forceraster="0" symbollevels="0">
    <categories>
      <category render="true" value="ip_management" symbol="0" label="IP management"/>
      <category render="true" value="ip_trading" symbol="1" label="IP trading"/>
      <category render="true" value="ip_services" symbol="2" label="IP services"/>
      <category render="true" value="ip_education" symbol="3" label="IP education"/>
      <category render="true" value="think_tank" symbol="4" label="Think tank"/>
      <category render="true" value="ip_culture" symbol="5" label="IP culture"/>
      <category render="true" value="ip_finance" symbol="6" label="IP finance"/>
    </categories>
    <symbols>
      <symbol type="fill" name="0" alpha="0.85" clip_to_extent="1" force_rhr="0">
        <layer class="SimpleFill" enabled="1" locked="0" pass="0">
          <Option type="Map">
            <Option type="QString" name="color" value="228,26,28,255"/>
            <Option type="QString" name="outline_color" value="40,40,40,255"/>
            <Option type="QString" name="outline_width" value="0.3"/>
            <Option type="QString" name="style" value="solid"/>
          </Option>
        </layer>
      </symbol>
      <symbol type="fill" name="1" alpha="0.85" clip_to_extent="1" force_rhr="0">
        <layer class="SimpleFill" enabled="1" locked="0" pass="0">
          <Option type="Map">
            <Option type="QString" name="color" value="255,127,0,255"/>
            <Option type="QString" name="outline_color" value="40,40,40,255"/>
            <Option type="QString" name="outline_width" value="0.3"/>
            <Option type="QString" name="style" value="solid"/>
          </Option>
        </layer>
      </symbol>
      <symbol type="fill" name="2" alpha="0.85" clip_to_extent="1" force_rhr="0">
        <layer class="SimpleFill" enabled="1" locked="0" pass="0">
          <Option type="Map">
            <Option type="QString" name="color" value="152,78,163,255"/>
            <Option type="QString" name="outline_color" value="40,40,40,255"/>
            <Option type="QString" name="outline_width" value="0.3"/>
            <Option type="QString" name="style" value="solid"/>
          </Option>
        </layer>
      </symbol>
      <symbol type="fill" name="3" alpha="0.85" clip_to_extent="1" force_rhr="0">
        <layer class="SimpleFill" enabled="1" locked="0" pass="0">
          <Option type="Map">
            <Option type="QString" name="color" value="55,126,184,255"/>
            <Option type="QString" name="outline_color" value="40,40,40,255"/>
            <Option type="QString" name="outline_width" value="0.3"/>
            <Option type="QString" name="style" value="solid"/>
          </Option>
        </layer>
      </symbol>
      <symbol type="fill" name="4" alpha="0.85" clip_to_extent="1" force_rhr="0">
        <layer class="SimpleFill" enabled="1" locked="0" pass="0">
          <Option type="Map">
            <Option type="QString" name="color" value="77,175,74,255"/>
            <Option type="QString" name="outline_color" value="40,40,40,255"/>
            <Option type="QString" name="outline_width" value="0.3"/>
            <Option type="QString" name="style" value="solid"/>
          </Option>
        </layer>
      </symbol>
      <symbol type="fill" name="5" alpha="0.85" clip_to_extent="1" force_rhr="0">
        <layer class="SimpleFill" enabled="1" locked="0" pass="0">
          <Option type="Map">
            <Option type="QString" name="color" value="247,129,191,255"/>
            <Option type="QString" name="outline_color" value="40,40,40,255"/>
            <Option type="QString" name="outline_width" value="0.3"/>
            <Option type="QString" name="style" value="solid"/>
          </Option>
        </layer>
      </symbol>
      <symbol type="fill" name="6" alpha="0.85" clip_to_extent="1" force_rhr="0">
        <layer class="SimpleFill" enabled="1" locked="0" pass="0">
          <Option type="Map">
            <Option type="QString" name="color" value="166,86,40,255"/>
            <Option type="QString" name="outline_color" value="40,40,40,255"/>
            <Option type="QString" name="outline_width" value="0.3"/>
            <Option type="QString" name="style" value="solid"/>
          </Option>
        </layer>
      </symbol>
    </symbols>
  </renderer-v2>
  <labeling type="simple">
    <settings calloutType="simple">
      <text-style fieldName="CASE WHEN &quot;module&quot; = 'ip_management' THEN 'IP management' WHEN &quot;module&quot; = 'ip_trading' THEN 'IP trading' WHEN &quot;module&quot; = 'ip_services' THEN 'IP services' WHEN &quot;module&quot; = 'ip_education' THEN 'IP education' WHEN &quot;module&quot; = 'think_tank' THEN 'Think tank' WHEN &quot;module&quot; = 'ip_culture' THEN 'IP culture' WHEN &quot;module&quot; = 'ip_finance' THEN 'IP finance' ELSE &quot;module&quot; END" isExpression="1" fontFamily="Noto Sans CJK SC" fontSize="9.0" fontSizeUnit="Point" fontWeight="63" textColor="20,20,20,255" multilineHeight="0.95">
        <text-buffer bufferDraw="1" bufferSize="1" bufferSizeUnits="MM" bufferOpacity="0.85" bufferColor="255,255,255,255" bufferJoinStyle="128" bufferNoFill="1"/>
      </text-style>
      <text-format autoWrapLength="8" useMaxLineLengthForAutoWrap="1" multilineAlign="1" wrapChar=""/>
      <placement placement="4" centroidInside="1" centroidWhole="0" fitInPolygonOnly="0" priority="5" polygonPlacementFlags="2"/>
      <rendering drawLabels="1" displayAll="1" obstacle="0" obstacleType="0" obstacleFactor="2" upsidedownLabels="0" scaleVisibility="1" scaleMin="1" scaleMax="150000" limitNumLabels="0"/>
    </settings>
  </labeling>
</qgis>
